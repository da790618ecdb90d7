//! The committed `schema.graphql` is the API contract: it must match the code.

use std::path::Path;

#[test]
fn the_committed_schema_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let generated = civic_panel::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema.graphql is stale. Regenerate it with\n\n    \
         cargo run -- export-schema --output schema.graphql\n\n\
         (or UPDATE_SCHEMA=1 cargo test schema) and commit the change."
    );
}

#[tokio::test]
async fn the_schema_documents_every_type_field_argument_and_value() {
    let app = crate::helpers::TestApp::spawn().await;
    let body = app
        .graphql(
            "{ __schema { types { name kind description
                fields { name description args { name description } }
                inputFields { name description } enumValues { name description } } } }",
            serde_json::json!({}),
            None,
        )
        .await;
    let described =
        |item: &serde_json::Value| item["description"].as_str().is_some_and(|d| !d.is_empty());
    let mut undocumented = Vec::new();
    for ty in body["data"]["__schema"]["types"].as_array().unwrap() {
        let name = ty["name"].as_str().unwrap();
        // Introspection, built-in scalars, and the connection wrappers async-graphql
        // generates (their fields are documented; the types cannot be).
        let generated = name.starts_with("__")
            || ["String", "Int", "Float", "Boolean", "ID", "PageInfo"].contains(&name)
            || name.ends_with("Connection")
            || name.ends_with("Edge");
        if generated {
            continue;
        }
        if !described(ty) && !["Query", "Mutation"].contains(&name) {
            undocumented.push(name.to_owned());
        }
        for key in ["fields", "inputFields", "enumValues"] {
            for item in ty[key].as_array().into_iter().flatten() {
                if !described(item) {
                    undocumented.push(format!("{name}.{}", item["name"].as_str().unwrap()));
                }
                for arg in item["args"].as_array().into_iter().flatten() {
                    if !described(arg) {
                        undocumented.push(format!(
                            "{name}.{}({})",
                            item["name"].as_str().unwrap(),
                            arg["name"].as_str().unwrap()
                        ));
                    }
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:#?}");
}
