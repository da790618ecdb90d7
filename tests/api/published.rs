//! One published report per kind, rendered alike: what SCRUTINY reads through GraphQL,
//! the CSV download, the HTML page and the charts is the same set of figures, with the
//! same values, and none of the figures withheld from SCRUTINY appears in any of them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use civic_panel::domain::accounts::role::Role;

use crate::helpers::{TestApp, csv_rows};
use crate::panels::{
    Registrant, SMALL_QUOTAS, create_panel, import_quotas, register_pool, select, small_pool,
};
use crate::reports::{AREA, answered_survey, members, panel_of};

/// A figure's place: table, group, measure (as the CSV names them).
type Key = (String, String, String);

/// Figures shown (numbers, or words for flags) and figures hidden.
#[derive(Debug, Default)]
struct Figures {
    shown: BTreeMap<Key, Value>,
    hidden: BTreeSet<Key>,
}

impl Figures {
    fn put(&mut self, table: &str, group: &str, measure: &str, value: &Value) {
        let key = (table.to_owned(), group.to_owned(), measure.to_owned());
        match value {
            Value::Null => {
                self.hidden.insert(key);
            }
            other => {
                self.shown.insert(key, other.clone());
            }
        }
    }

    /// A GraphQL object's fields under `names` (GraphQL name → measure).
    fn fields(&mut self, table: &str, group: &str, object: &Value, names: &[(&str, &str)]) {
        for (field, measure) in names {
            self.put(table, group, measure, &object[*field]);
        }
    }

    fn measures(&self) -> BTreeSet<String> {
        self.shown.keys().map(|(_, _, m)| m.clone()).collect()
    }
}

/// camelCase → snake_case.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn counts(figures: &mut Figures, table: &str, group: &str, counts: &Value) {
    for (field, value) in counts.as_object().unwrap() {
        figures.put(table, group, &snake(field), value);
    }
}

/// Whether two values are the same figure: equal numbers (to the CSV's six decimals) or
/// equal words.
fn same(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        Value::Bool(_) => None,
        _ => None,
    };
    let word = |v: &Value| match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string().to_lowercase(),
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * (1.0 + y.abs()),
        _ => word(a) == word(b),
    }
}

/// The CSV's figures: rows with a value, and rows marked `suppressed`.
fn from_csv(bytes: &[u8]) -> Figures {
    let mut figures = Figures::default();
    for row in csv_rows(bytes).iter().skip(1) {
        let key = (row[0].clone(), row[1].clone(), row[2].clone());
        if row[4] == "suppressed" {
            figures.hidden.insert(key);
        } else {
            figures.shown.insert(key, Value::String(row[3].clone()));
        }
    }
    figures
}

/// Every element of an HTML page or a chart marked with where its figure sits: shown
/// (with its value) and hidden (without one).
fn from_marks(text: &str) -> Figures {
    let document = roxmltree::Document::parse(text.trim_start_matches("<!DOCTYPE html>").trim())
        .expect("well-formed");
    let mut figures = Figures::default();
    for node in document.descendants() {
        let (Some(table), Some(group), Some(measure)) = (
            node.attribute("data-table"),
            node.attribute("data-group"),
            node.attribute("data-measure"),
        ) else {
            continue;
        };
        let key = (table.to_owned(), group.to_owned(), measure.to_owned());
        match node.attribute("data-value") {
            Some(value) => {
                figures.shown.insert(key, Value::String(value.to_owned()));
            }
            None => {
                figures.hidden.insert(key);
            }
        }
    }
    figures
}

/// The API's figures and the CSV's are the same, with the same values; what the CSV
/// marks hidden the API leaves null.
fn assert_same(api: &Figures, csv: &Figures) {
    let api_keys: BTreeSet<&Key> = api.shown.keys().collect();
    let csv_keys: BTreeSet<&Key> = csv.shown.keys().collect();
    assert_eq!(
        api_keys.difference(&csv_keys).collect::<Vec<_>>(),
        Vec::<&&Key>::new(),
        "shown by the API, not in the CSV"
    );
    assert_eq!(
        csv_keys.difference(&api_keys).collect::<Vec<_>>(),
        Vec::<&&Key>::new(),
        "in the CSV, not shown by the API"
    );
    for (key, value) in &api.shown {
        assert!(
            same(value, &csv.shown[key]),
            "{key:?}: API {value}, CSV {}",
            csv.shown[key]
        );
    }
    for key in &csv.hidden {
        assert!(
            api.hidden.contains(key),
            "{key:?} hidden in the CSV, not null in the API"
        );
    }
}

/// What a page or a chart marks is among the published figures, with the same values;
/// what it marks hidden is hidden there.
fn assert_within(page: &Figures, published: &Figures, what: &str) {
    for (key, value) in &page.shown {
        let Some(expected) = published.shown.get(key) else {
            panic!("{what} shows {key:?} = {value}, not published");
        };
        assert!(
            same(value, expected),
            "{what} {key:?}: {value}, published {expected}"
        );
    }
    for key in &page.hidden {
        assert!(
            published.hidden.contains(key),
            "{what} hides {key:?}, published shown"
        );
    }
}

const CONSULTATION_REPORT: &str = "query($id: ID!, $input: ReportInput) {
    consultationReport(id: $id, input: $input) {
        threshold suppressed
        funnel { counts { invited sent opened clicked started completed openLink respondents }
                 bounced machineOpenedOnly }
        byChannel { ...split }
        splits { ...split }
        youngPeople { ...split }
        byDay { day sent opened clicked started completed }
        propensity { rIndicator propensitySd meanPropensity }
        weighting { weighted iterations converged maxError effectiveSampleSize designEffect
                    respondents leftOut }
        questions {
            key answered
            options { label count share weightedShare }
            score { value standardError low high }
            weightedScore { value standardError low high }
            change { difference pValue previous { value standardError low high } }
        }
    }
}
fragment split on ReportSplit {
    name benchmarked respondentsWithoutBenchmark dissimilarity
    chiSquare { statistic degreesOfFreedom pValue }
    partialIndicator { unconditional conditional }
    totals { invited sent opened clicked started completed openLink respondents }
    groups {
        label populationShare invitedShare respondentShare responseRate flag weightedShare
        counts { invited sent opened clicked started completed openLink respondents }
        representationRatio { value low high }
        partialIndicator { unconditional conditional }
    }
}";

fn score(figures: &mut Figures, table: &str, measure: &str, score: &Value) {
    if score.is_null() {
        return;
    }
    figures.put(table, "all", measure, &score["value"]);
    figures.put(
        table,
        "all",
        &format!("{measure}_standard_error"),
        &score["standardError"],
    );
    figures.put(table, "all", &format!("{measure}_low"), &score["low"]);
    figures.put(table, "all", &format!("{measure}_high"), &score["high"]);
}

/// A consultation report's figures, named as the CSV names them.
fn consultation_figures(report: &Value) -> Figures {
    let mut f = Figures::default();
    counts(&mut f, "funnel", "all", &report["funnel"]["counts"]);
    f.put("funnel", "all", "bounced", &report["funnel"]["bounced"]);
    f.put(
        "funnel",
        "all",
        "machine_opened_only",
        &report["funnel"]["machineOpenedOnly"],
    );
    let splits = report["splits"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&report["byChannel"], &report["youngPeople"]]);
    for split in splits {
        let table = split["name"].as_str().unwrap();
        for g in split["groups"].as_array().unwrap() {
            let label = g["label"].as_str().unwrap();
            counts(&mut f, table, label, &g["counts"]);
            f.fields(
                table,
                label,
                g,
                &[
                    ("populationShare", "population_share"),
                    ("invitedShare", "invited_share"),
                    ("respondentShare", "respondent_share"),
                    ("responseRate", "response_rate"),
                    ("weightedShare", "weighted_share"),
                ],
            );
            if !g["representationRatio"].is_null() {
                let r = &g["representationRatio"];
                f.put(table, label, "representation_ratio", &r["value"]);
                f.put(table, label, "representation_ratio_low", &r["low"]);
                f.put(table, label, "representation_ratio_high", &r["high"]);
            }
            if g["flag"] != "NONE" {
                f.put(table, label, "flag", &g["flag"]);
            }
            if !g["partialIndicator"].is_null() {
                let p = &g["partialIndicator"];
                f.put(table, label, "partial_r_unconditional", &p["unconditional"]);
                f.put(table, label, "partial_r_conditional", &p["conditional"]);
            }
        }
        counts(&mut f, table, "all", &split["totals"]);
        if split["benchmarked"] == true {
            f.put(
                table,
                "all",
                "respondents_without_benchmark",
                &split["respondentsWithoutBenchmark"],
            );
        }
        f.put(table, "all", "dissimilarity", &split["dissimilarity"]);
        if !split["chiSquare"].is_null() {
            let c = &split["chiSquare"];
            f.put(table, "all", "chi_square", &c["statistic"]);
            f.put(table, "all", "chi_square_df", &c["degreesOfFreedom"]);
            f.put(table, "all", "chi_square_p", &c["pValue"]);
        }
        if !split["partialIndicator"].is_null() {
            let p = &split["partialIndicator"];
            f.put(table, "all", "partial_r_unconditional", &p["unconditional"]);
            f.put(table, "all", "partial_r_conditional", &p["conditional"]);
        }
    }
    for day in report["byDay"].as_array().unwrap() {
        let group = day["day"].as_str().unwrap();
        for measure in ["sent", "opened", "clicked", "started", "completed"] {
            f.put("by_day", group, measure, &day[measure]);
        }
    }
    let p = &report["propensity"];
    f.fields(
        "propensity",
        "all",
        p,
        &[
            ("rIndicator", "r_indicator"),
            ("propensitySd", "propensity_sd"),
            ("meanPropensity", "mean_propensity"),
        ],
    );
    let w = &report["weighting"];
    f.fields(
        "weighting",
        "all",
        w,
        &[
            ("iterations", "iterations"),
            ("converged", "converged"),
            ("maxError", "max_error"),
            ("effectiveSampleSize", "effective_sample_size"),
            ("designEffect", "design_effect"),
            ("respondents", "respondents"),
            ("leftOut", "left_out"),
        ],
    );
    for q in report["questions"].as_array().unwrap() {
        let table = format!("question:{}", q["key"].as_str().unwrap());
        f.put(&table, "all", "answered", &q["answered"]);
        for o in q["options"].as_array().unwrap() {
            let label = o["label"].as_str().unwrap();
            f.fields(
                &table,
                label,
                o,
                &[
                    ("count", "count"),
                    ("share", "share"),
                    ("weightedShare", "weighted_share"),
                ],
            );
        }
        score(&mut f, &table, "score", &q["score"]);
        score(&mut f, &table, "weighted_score", &q["weightedScore"]);
        if !q["change"].is_null() {
            score(&mut f, &table, "previous_score", &q["change"]["previous"]);
            f.put(&table, "all", "change", &q["change"]["difference"]);
            f.put(&table, "all", "change_p_value", &q["change"]["pValue"]);
        }
    }
    f
}

/// Figures SCRUTINY never gets, in any form.
const WITHHELD: [&str; 10] = [
    "iterations",
    "converged",
    "max_error",
    "effective_sample_size",
    "design_effect",
    "weighted_share",
    "weighted_score",
    "change",
    "previous_score",
    "left_out",
];

#[tokio::test]
async fn scrutiny_reads_the_same_figures_and_no_others_through_the_api_the_csv_the_page_and_the_charts()
 {
    let app = TestApp::spawn().await;
    app.load_benchmarks().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let members = members();
    let panel = panel_of(&app, &officer, &members).await;
    answered_survey(&app, &officer, &panel, &members, "Spring").await;
    let consultation = answered_survey(&app, &officer, &panel, &members, "Summer").await;

    // A consultation's report.
    for (token, protected) in [(&officer, false), (&scrutiny, true)] {
        let body = app
            .graphql(
                CONSULTATION_REPORT,
                json!({ "id": consultation, "input": { "areaCode": AREA } }),
                Some(token),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
        let report = &body["data"]["consultationReport"];
        let api = consultation_figures(report);
        let base = format!("/exports/consultations/{consultation}");
        let csv = from_csv(
            &app.get(&format!("{base}/report.csv?areaCode={AREA}"), Some(token))
                .await
                .bytes,
        );
        assert_same(&api, &csv);
        let page = String::from_utf8(
            app.get(&format!("{base}/report.html?areaCode={AREA}"), Some(token))
                .await
                .bytes,
        )
        .unwrap();
        let marked = from_marks(&page);
        assert!(marked.shown.len() > 50, "the page marks its figures");
        assert_within(&marked, &api, "the page");
        for chart in ["funnel", "age_band", "sex", "ethnic_group", "young_people"] {
            let svg = app
                .get(
                    &format!("{base}/charts/{chart}.svg?areaCode={AREA}"),
                    Some(token),
                )
                .await;
            let svg = String::from_utf8(svg.bytes).unwrap();
            let marked = from_marks(&svg);
            assert!(
                !marked.shown.is_empty() || chart != "funnel",
                "{chart} marks its bars"
            );
            assert_within(&marked, &api, &format!("the {chart} chart"));
        }
        let measures = api.measures();
        if protected {
            assert_eq!(report["threshold"], 10);
            for withheld in WITHHELD {
                assert!(!measures.contains(withheld), "SCRUTINY sees {withheld}");
                assert!(!csv.measures().contains(withheld), "the CSV has {withheld}");
                assert!(
                    !from_marks(&page).measures().contains(withheld),
                    "the page has {withheld}"
                );
            }
            assert!(api.shown.keys().all(|(t, _, _)| t != "by_day"));
            for words in [
                "effective sample size",
                "design effect",
                "sweeps",
                "converged",
            ] {
                assert!(!page.contains(words), "the page says {words}");
            }
        } else {
            // Officers get the weighting's figures, everywhere.
            for measure in [
                "iterations",
                "effective_sample_size",
                "design_effect",
                "weighted_share",
            ] {
                assert!(measures.contains(measure), "OFFICER lacks {measure}");
            }
            assert!(page.contains("effective sample size"));
        }
    }

    // A panel's health.
    const PANEL_REPORT: &str = "query($id: ID!, $input: ReportInput) {
        panelReport(id: $id, input: $input, seriesDimension: SEX) {
            seriesDimension
            splits {
                name totals { members sitting left responding lapsed neverResponded }
                groups {
                    label populationShare sittingShare representationRatio leavingRate lapseRate
                    counts { members sitting left responding lapsed neverResponded }
                }
            }
            series { title openedOn groups { label invited completed responseRate } }
        }
    }";
    let body = app
        .graphql(
            PANEL_REPORT,
            json!({ "id": panel, "input": { "areaCode": AREA } }),
            Some(&scrutiny),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let report = &body["data"]["panelReport"];
    let mut api = Figures::default();
    for split in report["splits"].as_array().unwrap() {
        let table = format!("panel:{}", split["name"].as_str().unwrap());
        for g in split["groups"].as_array().unwrap() {
            let label = g["label"].as_str().unwrap();
            counts(&mut api, &table, label, &g["counts"]);
            api.fields(
                &table,
                label,
                g,
                &[
                    ("populationShare", "population_share"),
                    ("sittingShare", "sitting_share"),
                    ("representationRatio", "representation_ratio"),
                    ("leavingRate", "leaving_rate"),
                    ("lapseRate", "lapse_rate"),
                ],
            );
        }
        counts(&mut api, &table, "all", &split["totals"]);
    }
    for point in report["series"].as_array().unwrap() {
        for g in point["groups"].as_array().unwrap() {
            let group = format!(
                "{} ({}): {}",
                point["title"].as_str().unwrap(),
                point["openedOn"].as_str().unwrap_or(""),
                g["label"].as_str().unwrap()
            );
            api.fields(
                "series:sex",
                &group,
                g,
                &[
                    ("invited", "invited"),
                    ("completed", "completed"),
                    ("responseRate", "response_rate"),
                ],
            );
        }
    }
    let csv = from_csv(
        &app.get(
            &format!("/exports/panels/{panel}/report.csv?areaCode={AREA}&seriesDimension=sex"),
            Some(&scrutiny),
        )
        .await
        .bytes,
    );
    assert!(
        api.hidden.iter().any(|(t, _, _)| t.starts_with("panel:")),
        "something hidden"
    );
    assert_same(&api, &csv);

    // A selection run's report.
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    let scrutiny = app.token_for(Role::Scrutiny).await;
    let mut pool = small_pool();
    pool.extend((0..3).map(|_| Registrant {
        sex: "FEMALE",
        born: "1990-06-01".to_owned(),
        attributes: vec![("leaning".to_owned(), "green".to_owned())],
    }));
    register_pool(&app, &pool).await;
    let panel = create_panel(
        &app,
        &officer,
        json!({ "name": "Residents Panel", "targetSize": 20 }),
    )
    .await;
    let quotas = format!("{SMALL_QUOTAS}\nleaning,green,0,3\n");
    let imported = import_quotas(&app, &officer, &panel, &quotas).await;
    assert!(imported["errors"].is_null(), "{imported}");
    let run = select(
        &app,
        &officer,
        json!({ "panelId": panel, "method": "MAXIMIN", "seed": "7", "tickets": 100 }),
    )
    .await;
    let run_id = run["id"].as_str().unwrap().to_owned();
    let body = app
        .graphql(
            "mutation($input: SelectionDrawInput!) { selectionDraw(input: $input) { id } }",
            json!({ "input": { "runId": run_id, "number": 1 } }),
            Some(&officer),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    const SELECTION_REPORT: &str = "query($id: ID!) {
        selectionReport(id: $id) {
            method topUp k poolSize drawnNumber lotterySha256
            probabilities { minimum median maximum }
            values {
                feature value quotaMin quotaMax populationShare sitting pool selected
                probabilities { minimum median maximum }
            }
        }
    }";
    for (token, protected) in [(&officer, false), (&scrutiny, true)] {
        let body = app
            .graphql(SELECTION_REPORT, json!({ "id": run_id }), Some(token))
            .await;
        assert!(body["errors"].is_null(), "{body}");
        let report = &body["data"]["selectionReport"];
        let mut api = Figures::default();
        let probabilities = |f: &mut Figures, table: &str, group: &str, p: &Value| {
            for (field, measure) in [
                ("minimum", "probability_lowest"),
                ("median", "probability_median"),
                ("maximum", "probability_highest"),
            ] {
                f.put(
                    table,
                    group,
                    measure,
                    if p.is_null() { &Value::Null } else { &p[field] },
                );
            }
        };
        api.put("run", "all", "method", &report["method"]);
        api.put("run", "all", "seats", &report["k"]);
        api.put("run", "all", "lottery_sha256", &report["lotterySha256"]);
        api.put("run", "all", "drawn_number", &report["drawnNumber"]);
        api.put("run", "all", "pool_size", &report["poolSize"]);
        probabilities(&mut api, "run", "all", &report["probabilities"]);
        for v in report["values"].as_array().unwrap() {
            let table = format!("value:{}", v["feature"].as_str().unwrap());
            let group = v["value"].as_str().unwrap();
            api.fields(
                &table,
                group,
                v,
                &[
                    ("quotaMin", "quota_min"),
                    ("quotaMax", "quota_max"),
                    ("populationShare", "population_share"),
                    ("pool", "pool"),
                    ("selected", "selected"),
                ],
            );
            probabilities(&mut api, &table, group, &v["probabilities"]);
        }
        let csv = from_csv(
            &app.get(
                &format!("/exports/selection-runs/{run_id}/report.csv"),
                Some(token),
            )
            .await
            .bytes,
        );
        assert_same(&api, &csv);
        assert_eq!(api.measures().contains("selected"), !protected);
        if protected {
            assert!(!api.hidden.is_empty(), "small groups hidden");
        }
    }
}
