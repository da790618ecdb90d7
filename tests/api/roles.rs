//! Every root field names who may use it; every role that may not is refused.
//!
//! `ACCESS` is the whole table. A test fails when the schema gains a root field that is
//! not in it, so no field can ship without a decision about who may call it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use civic_panel::domain::accounts::role::Role;

use crate::helpers::{TestApp, error_code, upload_request};

/// Who may call a root field.
enum Access {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in account.
    AnyAccount,
    /// Only these roles (ADMIN is always allowed).
    Roles(&'static [Role]),
}

/// (root field, access, a document that calls it). Documents with a `$file` variable are
/// sent as multipart uploads.
const ACCESS: &[(&str, Access, &str)] = &[
    ("Query.me", Access::AnyAccount, "{ me { id } }"),
    (
        "Query.node",
        Access::AnyAccount,
        r#"{ node(id: "QWNjb3VudDox") { id } }"#,
    ),
    (
        "Query.responses",
        Access::Roles(&[Role::Officer]),
        r#"{ responses(consultationId: "Q29uc3VsdGF0aW9uOjE") { edges { cursor } } }"#,
    ),
    (
        "Query.auditEntries",
        Access::Roles(&[]),
        "{ auditEntries { edges { cursor } } }",
    ),
    (
        "Query.job",
        Access::Roles(&[Role::Officer]),
        r#"{ job(id: "Sm9iOjE") { id } }"#,
    ),
    (
        "Query.jobs",
        Access::Roles(&[Role::Officer]),
        "{ jobs { edges { cursor } } }",
    ),
    (
        "Query.account",
        Access::Roles(&[Role::Admin]),
        r#"{ account(id: "QWNjb3VudDox") { id } }"#,
    ),
    (
        "Query.accounts",
        Access::Roles(&[Role::Admin]),
        "{ accounts { edges { cursor } } }",
    ),
    (
        "Query.addressCount",
        Access::Roles(&[Role::Officer]),
        "{ addressCount }",
    ),
    (
        "Query.benchmarkAreas",
        Access::Roles(&[Role::Officer, Role::Scrutiny]),
        "{ benchmarkAreas { code } }",
    ),
    (
        "Query.populationBenchmarks",
        Access::Roles(&[Role::Officer, Role::Scrutiny]),
        r#"{ populationBenchmarks(areaCode: "E07000083") { total } }"#,
    ),
    (
        "Query.recruitmentRound",
        Access::Roles(&[Role::Officer, Role::Scrutiny]),
        r#"{ recruitmentRound(id: "UmVjcnVpdG1lbnRSb3VuZDox") { id } }"#,
    ),
    (
        "Query.recruitmentRounds",
        Access::Roles(&[Role::Officer, Role::Scrutiny]),
        "{ recruitmentRounds { edges { cursor } } }",
    ),
    (
        "Query.consultationReport",
        Access::Roles(&[Role::Officer, Role::Scrutiny]),
        r#"{ consultationReport(id: "Q29uc3VsdGF0aW9uOjE=") { title } }"#,
    ),
    (
        "Query.panelReport",
        Access::Roles(&[Role::Officer, Role::Scrutiny]),
        r#"{ panelReport(id: "UGFuZWw6MQ==") { name } }"#,
    ),
    (
        "Query.selectionReport",
        Access::Roles(&[Role::Officer, Role::Scrutiny]),
        r#"{ selectionReport(id: "U2VsZWN0aW9uUnVuOjE") { k } }"#,
    ),
    (
        "Query.recruitmentPlan",
        Access::Roles(&[Role::Officer]),
        "{ recruitmentPlan(targetRegistrations: 10) { lettersNeeded } }",
    ),
    (
        "Query.registrationConsentWording",
        Access::Public,
        "{ registrationConsentWording }",
    ),
    (
        "Mutation.accountCreate",
        Access::Roles(&[Role::Admin]),
        r#"mutation { accountCreate(input: { email: "n@example.org", displayName: "N", role: OFFICER, password: "long enough password" }) { account { id } } }"#,
    ),
    (
        "Mutation.addressRegisterImport",
        Access::Roles(&[Role::Officer]),
        "mutation($file: Upload!) { addressRegisterImport(input: { file: $file }) { job { id } } }",
    ),
    (
        "Mutation.incentiveFulfil",
        Access::Roles(&[Role::Officer]),
        r#"mutation { incentiveFulfil(input: { residentIds: ["UmVzaWRlbnQ6MQ"] }) { fulfilledCount } }"#,
    ),
    (
        "Mutation.jobCancel",
        Access::Roles(&[Role::Officer]),
        r#"mutation { jobCancel(input: { id: "Sm9iOjE" }) { job { id } } }"#,
    ),
    (
        "Mutation.letterBundleCreate",
        Access::Roles(&[Role::Officer]),
        r#"mutation { letterBundleCreate(input: { roundId: "UmVjcnVpdG1lbnRSb3VuZDox" }) { job { id } } }"#,
    ),
    (
        "Mutation.loginLinkRequest",
        Access::Public,
        r#"mutation { loginLinkRequest(input: { email: "x@example.org" }) { accepted } }"#,
    ),
    (
        "Mutation.populationBenchmarksImport",
        Access::Roles(&[Role::Officer]),
        "mutation($file: Upload!) { populationBenchmarksImport(input: { file: $file }) { written } }",
    ),
    (
        "Mutation.recruitmentRoundCreate",
        Access::Roles(&[Role::Officer]),
        r#"mutation { recruitmentRoundCreate(input: { name: "R", letters: 1 }) { job { id } } }"#,
    ),
    (
        "Mutation.registrationCreate",
        Access::Public,
        r#"mutation { registrationCreate(input: { code: "x", fullName: "A", email: "a@example.org", dateOfBirth: "1990-01-01", sex: FEMALE, ethnicGroup: WHITE_IRISH, disability: DISABLED, consent: true }) { residentId } }"#,
    ),
    (
        "Mutation.sessionCreateFromLink",
        Access::Public,
        r#"mutation { sessionCreateFromLink(input: { token: "cpl_x" }) { token } }"#,
    ),
    (
        "Mutation.sessionCreate",
        Access::Public,
        r#"mutation { sessionCreate(input: { email: "x@example.org", password: "x" }) { token } }"#,
    ),
    (
        "Mutation.sessionRevoke",
        Access::AnyAccount,
        "mutation { sessionRevoke { revokedCount } }",
    ),
    (
        "Query.panels",
        Access::Roles(&[Role::Officer]),
        "{ panels { nodes { id } } }",
    ),
    (
        "Query.panel",
        Access::Roles(&[Role::Officer]),
        r#"{ panel(id: "UGFuZWw6MQ") { id } }"#,
    ),
    (
        "Query.selectionRun",
        Access::Roles(&[Role::Officer]),
        r#"{ selectionRun(id: "U2VsZWN0aW9uUnVuOjE") { id } }"#,
    ),
    (
        "Mutation.panelCreate",
        Access::Roles(&[Role::Officer]),
        r#"mutation { panelCreate(input: { name: "P", targetSize: 5 }) { id } }"#,
    ),
    (
        "Mutation.panelQuotasSet",
        Access::Roles(&[Role::Officer]),
        r#"mutation { panelQuotasSet(input: { panelId: "UGFuZWw6MQ", quotas: [] }) { value } }"#,
    ),
    (
        "Mutation.panelQuotasImport",
        Access::Roles(&[Role::Officer]),
        r#"mutation { panelQuotasImport(input: { panelId: "UGFuZWw6MQ", csv: "feature,value,min,max" }) { value } }"#,
    ),
    (
        "Mutation.panelQuotasDerive",
        Access::Roles(&[Role::Officer]),
        r#"mutation { panelQuotasDerive(input: { panelId: "UGFuZWw6MQ", features: ["sex"] }) { value } }"#,
    ),
    (
        "Mutation.residentAttributesImport",
        Access::Roles(&[Role::Officer]),
        r#"mutation { residentAttributesImport(input: { csv: "resident_id,tenure" }) { values } }"#,
    ),
    (
        "Mutation.guardianConsentRecord",
        Access::Roles(&[Role::Officer]),
        r#"mutation { guardianConsentRecord(input: { residentId: "UmVzaWRlbnQ6MQ", guardianName: "G", relationship: "father", method: "form" }) { recordedAt } }"#,
    ),
    (
        "Mutation.selectionStart",
        Access::Roles(&[Role::Officer]),
        r#"mutation { selectionStart(input: { panelId: "UGFuZWw6MQ" }) { run { id } } }"#,
    ),
    (
        "Mutation.selectionDraw",
        Access::Roles(&[Role::Officer]),
        r#"mutation { selectionDraw(input: { runId: "U2VsZWN0aW9uUnVuOjE", number: 1 }) { id } }"#,
    ),
    (
        "Mutation.membershipStatusChange",
        Access::Roles(&[Role::Officer]),
        r#"mutation { membershipStatusChange(input: { membershipId: "TWVtYmVyc2hpcDox", status: ACTIVE }) { id } }"#,
    ),
    (
        "Mutation.panelWithdraw",
        Access::AnyAccount,
        r#"mutation { panelWithdraw(input: { panelId: "UGFuZWw6MQ" }) { id } }"#,
    ),
    (
        "Query.consultations",
        Access::Roles(&[Role::Officer]),
        "{ consultations { nodes { id } } }",
    ),
    (
        "Query.consultation",
        Access::Roles(&[Role::Officer]),
        r#"{ consultation(id: "Q29uc3VsdGF0aW9uOjE") { id } }"#,
    ),
    (
        "Query.invitationByToken",
        Access::Public,
        r#"{ invitationByToken(token: "cpc_x") { stage } }"#,
    ),
    (
        "Query.invitation",
        Access::Roles(&[Role::Officer, Role::Resident]),
        r#"{ invitation(id: "SW52aXRhdGlvbjox") { stage } }"#,
    ),
    (
        "Query.myInvitations",
        Access::AnyAccount,
        "{ myInvitations { nodes { title } } }",
    ),
    (
        "Mutation.consultationCreate",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationCreate(input: { title: "T", openLink: true }) { consultation { id } } }"#,
    ),
    (
        "Mutation.consultationUpdate",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationUpdate(input: { consultationId: "Q29uc3VsdGF0aW9uOjE", consultation: { title: "T", openLink: true } }) { consultation { id } } }"#,
    ),
    (
        "Mutation.consultationQuestionsSet",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationQuestionsSet(input: { consultationId: "Q29uc3VsdGF0aW9uOjE", questions: [] }) { questions { key } } }"#,
    ),
    (
        "Mutation.consultationOpen",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationOpen(input: { consultationId: "Q29uc3VsdGF0aW9uOjE" }) { consultation { id } } }"#,
    ),
    (
        "Mutation.consultationClose",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationClose(input: { consultationId: "Q29uc3VsdGF0aW9uOjE" }) { consultation { id } } }"#,
    ),
    (
        "Mutation.consultationReopen",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationReopen(input: { consultationId: "Q29uc3VsdGF0aW9uOjE" }) { consultation { id } } }"#,
    ),
    (
        "Mutation.consultationDuplicate",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationDuplicate(input: { consultationId: "Q29uc3VsdGF0aW9uOjE" }) { consultation { id } } }"#,
    ),
    (
        "Mutation.consultationInvite",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationInvite(input: { consultationId: "Q29uc3VsdGF0aW9uOjE" }) { job { id } } }"#,
    ),
    (
        "Mutation.consultationLettersExport",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationLettersExport(input: { consultationId: "Q29uc3VsdGF0aW9uOjE" }) { job { id } } }"#,
    ),
    (
        "Mutation.consultationRemind",
        Access::Roles(&[Role::Officer]),
        r#"mutation { consultationRemind(input: { consultationId: "Q29uc3VsdGF0aW9uOjE" }) { job { id } } }"#,
    ),
    (
        "Query.openConsultation",
        Access::Public,
        r#"{ openConsultation(code: "x") { title } }"#,
    ),
    (
        "Mutation.openResponseSubmit",
        Access::Public,
        r#"mutation { openResponseSubmit(input: { code: "x", answers: [] }) { duplicate } }"#,
    ),
    (
        "Mutation.invitationRevoke",
        Access::Roles(&[Role::Officer]),
        r#"mutation { invitationRevoke(input: { invitationId: "SW52aXRhdGlvbjox" }) { id } }"#,
    ),
    (
        "Mutation.reminderPreferenceSet",
        Access::AnyAccount,
        "mutation { reminderPreferenceSet(input: { optOut: true }) { optOut } }",
    ),
    (
        "Mutation.answersSave",
        Access::Public,
        r#"mutation { answersSave(input: { token: "cpc_x", answers: [] }) { stage } }"#,
    ),
    (
        "Mutation.responseSubmit",
        Access::Public,
        r#"mutation { responseSubmit(input: { token: "cpc_x" }) { stage } }"#,
    ),
    (
        "Mutation.responseEnter",
        Access::Roles(&[Role::Officer]),
        r#"mutation { responseEnter(input: { code: "ABCDE-FGHJK", channel: PAPER, answers: [] }) { stage } }"#,
    ),
];

/// Runs a document from `ACCESS` as `token`.
async fn call(app: &TestApp, document: &str, token: Option<&str>) -> Value {
    if document.contains("$file") {
        let request = upload_request(
            document,
            &json!({ "file": null }),
            "variables.file",
            b"a,b\n",
            token,
        );
        app.send(request).await.json()
    } else {
        app.graphql(document, json!({}), token).await
    }
}

async fn root_fields(app: &TestApp) -> BTreeSet<String> {
    let body = app
        .graphql(
            "{ __schema { queryType { name fields { name } } mutationType { name fields { name } } } }",
            json!({}),
            None,
        )
        .await;
    let mut names = BTreeSet::new();
    for root in ["queryType", "mutationType"] {
        let root_type: &Value = &body["data"]["__schema"][root];
        for field in root_type["fields"].as_array().unwrap() {
            names.insert(format!(
                "{}.{}",
                root_type["name"].as_str().unwrap(),
                field["name"].as_str().unwrap()
            ));
        }
    }
    names
}

#[tokio::test]
async fn every_root_field_has_an_access_rule() {
    let app = TestApp::spawn().await;
    let listed: BTreeSet<String> = ACCESS
        .iter()
        .map(|(name, _, _)| (*name).to_owned())
        .collect();
    assert_eq!(
        root_fields(&app).await,
        listed,
        "add new root fields to ACCESS in tests/api/roles.rs"
    );
}

#[tokio::test]
async fn anonymous_callers_are_refused_every_non_public_field() {
    let app = TestApp::spawn().await;
    for (name, access, document) in ACCESS {
        if matches!(access, Access::Public) {
            continue;
        }
        let body = call(&app, document, None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{name}");
    }
}

#[tokio::test]
async fn each_role_is_refused_every_field_it_is_not_granted() {
    let app = TestApp::spawn().await;
    let mut refusals = 0;
    for role in [Role::Officer, Role::Scrutiny, Role::Resident] {
        let token = app.token_for(role).await;
        for (name, access, document) in ACCESS {
            let Access::Roles(allowed) = access else {
                continue;
            };
            if role.is_any_of(allowed) {
                continue;
            }
            let body = call(&app, document, Some(&token)).await;
            assert_eq!(
                error_code(&body),
                "FORBIDDEN",
                "{role} calling {name}: {body}"
            );
            refusals += 1;
        }
    }
    // Four ADMIN-only fields refused to three roles, thirty-seven OFFICER fields to two,
    // seven OFFICER-or-SCRUTINY fields to residents, and one OFFICER-or-RESIDENT field to
    // scrutiny members.
    assert_eq!(refusals, 4 * 3 + 37 * 2 + 7 + 1);
}

#[tokio::test]
async fn each_role_may_call_every_field_it_is_granted() {
    let app = TestApp::spawn().await;
    for role in Role::ALL {
        let token = app.token_for(role).await;
        for (name, access, document) in ACCESS {
            let granted = match access {
                Access::Public => false,
                // Revoking would end the session the rest of the loop uses.
                Access::AnyAccount => !name.ends_with("sessionRevoke"),
                Access::Roles(allowed) => role.is_any_of(allowed),
            };
            if !granted {
                continue;
            }
            let body = call(&app, document, Some(&token)).await;
            let code = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("none");
            assert!(
                code != "FORBIDDEN" && code != "UNAUTHENTICATED",
                "{role} calling {name}: {body}"
            );
        }
    }
}
