//! Census population benchmarks: import and shares.

use serde_json::json;

use civic_panel::domain::accounts::role::Role;

use crate::helpers::{TestApp, upload_request};

const IMPORT: &str = "mutation($input: PopulationBenchmarksImportInput!) {
    populationBenchmarksImport(input: $input) { written rejectedRows { line reason } }
}";
const SHARES: &str = "query($area: String!) {
    populationBenchmarks(areaCode: $area) { dimension universe total categories { category count share } }
}";

#[tokio::test]
async fn census_benchmarks_import_and_read_back_as_shares() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let file = civic_panel::service::demo::CENSUS_BENCHMARKS.as_bytes();
    let request = upload_request(
        IMPORT,
        &json!({ "input": { "file": null } }),
        "variables.input.file",
        file,
        Some(&officer),
    );
    let body = app.send(request).await.json();
    let data_rows = civic_panel::service::demo::CENSUS_BENCHMARKS
        .lines()
        .count()
        - 1;
    assert_eq!(
        body["data"]["populationBenchmarksImport"]["written"], data_rows,
        "{body}"
    );

    let scrutiny = app.token_for(Role::Scrutiny).await;
    let body = app
        .graphql(SHARES, json!({ "area": "E07000083" }), Some(&scrutiny))
        .await;
    let dimensions = body["data"]["populationBenchmarks"].as_array().unwrap();
    let names: Vec<&str> = dimensions
        .iter()
        .map(|d| d["dimension"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "age_band",
            "disability",
            "ethnic_group",
            "household_deprivation",
            "sex",
            "tenure"
        ]
    );
    let sex = dimensions.iter().find(|d| d["dimension"] == "sex").unwrap();
    // Known answer: Tewkesbury, Census 2021 (TS008): 48,792 female, 46,085 male.
    assert_eq!(sex["total"], 48_792 + 46_085);
    let female = &sex["categories"][0];
    assert_eq!(female["category"], "female");
    assert!((female["share"].as_f64().unwrap() - 48_792.0 / 94_877.0).abs() < 1e-12);
    let ethnic = dimensions
        .iter()
        .find(|d| d["dimension"] == "ethnic_group")
        .unwrap();
    assert_eq!(ethnic["categories"].as_array().unwrap().len(), 19);
}

#[tokio::test]
async fn a_reimport_replaces_counts_and_bad_rows_are_reported() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let header = "area_code,area_name,dimension,category,count,universe\n";
    let v1 = format!(
        "{header}E07000083,Tewkesbury,sex,female,10,persons\nE07000083,Tewkesbury,sex,male,30,persons\n"
    );
    let v2 = format!(
        "{header}E07000083,Tewkesbury,sex,female,30,persons\nE07000083,Tewkesbury,sex,male,-3,persons\nBAD,Nowhere,sex,male,1,persons\n"
    );
    for csv in [v1, v2.clone()] {
        let request = upload_request(
            IMPORT,
            &json!({ "input": { "file": null } }),
            "variables.input.file",
            csv.as_bytes(),
            Some(&officer),
        );
        app.send(request).await;
    }
    let request = upload_request(
        IMPORT,
        &json!({ "input": { "file": null } }),
        "variables.input.file",
        v2.as_bytes(),
        Some(&officer),
    );
    let body = app.send(request).await.json();
    let rejected = body["data"]["populationBenchmarksImport"]["rejectedRows"]
        .as_array()
        .unwrap();
    assert_eq!(
        rejected
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![3, 4]
    );
    let shares = app
        .graphql(SHARES, json!({ "area": "E07000083" }), Some(&officer))
        .await;
    let sex = &shares["data"]["populationBenchmarks"][0];
    assert_eq!(sex["total"], 60, "female now 30, male still 30: {shares}");
}

#[tokio::test]
async fn an_area_without_benchmarks_is_not_found() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let body = app
        .graphql(SHARES, json!({ "area": "E99999999" }), Some(&officer))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
}
