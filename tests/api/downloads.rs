//! Every download route refuses the same way, before its use case runs: a bad token is 401
//! `UNAUTHENTICATED`, an ID of another kind in the path is 400 `BAD_USER_INPUT` naming the
//! path's parameter, and an ID of the right kind that names nothing is 404 `NOT_FOUND`.
//! The routes are read from the router's source, so a new download without an entry here
//! fails.

use civic_panel::domain::accounts::role::Role;
use civic_panel::domain::ids::{ConsultationId, FileId, PanelId, RoundId, SelectionRunId};
use civic_panel::global_id::encode;

use crate::helpers::{TestApp, error_code};

/// Each download route, with an ID of its kind that names nothing and one of another kind.
fn routes() -> Vec<(&'static str, String, String)> {
    let missing = 999_999;
    vec![
        (
            "/exports/files/{file}",
            encode(FileId(missing)),
            encode(RoundId(1)),
        ),
        (
            "/exports/rounds/{round}/addresses.csv",
            encode(RoundId(missing)),
            encode(PanelId(1)),
        ),
        (
            "/exports/rounds/{round}/incentives.csv",
            encode(RoundId(missing)),
            encode(ConsultationId(1)),
        ),
        (
            "/exports/consultations/{consultation}/report.csv",
            encode(ConsultationId(missing)),
            encode(RoundId(1)),
        ),
        (
            "/exports/consultations/{consultation}/report.html",
            encode(ConsultationId(missing)),
            encode(PanelId(1)),
        ),
        (
            "/exports/consultations/{consultation}/charts/{chart}",
            encode(ConsultationId(missing)),
            encode(SelectionRunId(1)),
        ),
        (
            "/exports/consultations/{consultation}/responses.csv",
            encode(ConsultationId(missing)),
            encode(FileId(1)),
        ),
        (
            "/exports/consultations/{consultation}/response-members.csv",
            encode(ConsultationId(missing)),
            encode(RoundId(1)),
        ),
        (
            "/exports/panels/{panel}/report.csv",
            encode(PanelId(missing)),
            encode(ConsultationId(1)),
        ),
        (
            "/exports/selection-runs/{run}/report.csv",
            encode(SelectionRunId(missing)),
            encode(PanelId(1)),
        ),
        (
            "/exports/selection-runs/{run}/probabilities.svg",
            encode(SelectionRunId(missing)),
            encode(RoundId(1)),
        ),
    ]
}

/// The route with `id` as its first parameter (and a chart's name as its second).
fn uri(route: &str, id: &str) -> (String, String) {
    let open = route.find('{').unwrap();
    let close = route[open..].find('}').unwrap() + open;
    let parameter = route[open + 1..close].to_owned();
    let uri =
        format!("{}{id}{}", &route[..open], &route[close + 1..]).replace("{chart}", "sex.svg");
    (uri, parameter)
}

#[test]
fn every_download_route_of_the_router_is_listed_here() {
    let router =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs")).unwrap();
    let routed: Vec<&str> = router
        .split('"')
        .filter(|s| s.starts_with("/exports/"))
        .collect();
    let listed: Vec<&str> = routes().iter().map(|r| r.0).collect();
    assert_eq!(routed.len(), 11, "{routed:?}");
    for route in &routed {
        assert!(listed.contains(route), "{route} has no entry in routes()");
    }
}

#[tokio::test]
async fn every_download_refuses_a_bad_token_an_id_of_another_kind_and_an_unknown_id() {
    let app = TestApp::spawn().await;
    let officer = app.token_for(Role::Officer).await;
    for (route, missing, other_kind) in routes() {
        let (unknown, parameter) = uri(route, &missing);
        let refused = app.get(&unknown, Some("not-a-token")).await;
        assert_eq!(refused.status, 401, "{route}: {}", refused.text);
        assert_eq!(error_code(&refused.json()), "UNAUTHENTICATED", "{route}");

        let (wrong, _) = uri(route, &other_kind);
        let refused = app.get(&wrong, Some(&officer)).await;
        assert_eq!(refused.status, 400, "{route}: {}", refused.text);
        let body = refused.json();
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{route}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], parameter,
            "{route}"
        );

        let refused = app.get(&unknown, Some(&officer)).await;
        assert_eq!(refused.status, 404, "{route}: {}", refused.text);
        assert_eq!(error_code(&refused.json()), "NOT_FOUND", "{route}");
    }
}
