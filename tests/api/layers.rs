//! The layers keep to their order: `domain` imports no framework and nothing above it;
//! `db` imports no service, GraphQL or HTTP code; services import neither the GraphQL nor
//! the HTTP layer (IDs given to a service are decoded by `crate::global_id`, below both).
//! Read from the source files, so a new import across a line fails here.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/<folder>`, folders of split modules included.
fn files_of(folder: &str) -> Vec<PathBuf> {
    let mut folders = vec![
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join(folder),
    ];
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The files of `folder` that mention any of `forbidden`, with what they mention.
fn offences(folder: &str, forbidden: &[&str]) -> Vec<String> {
    let mut offences = Vec::new();
    for path in files_of(folder) {
        let text = std::fs::read_to_string(&path).unwrap();
        for name in forbidden {
            if text.contains(name) {
                offences.push(format!("{} uses {name}", path.display()));
            }
        }
    }
    offences
}

#[test]
fn the_domain_layer_imports_no_framework() {
    let files = files_of("domain");
    assert!(files.iter().any(|f| f.ends_with("reports/charts/bars.rs")));
    let found = offences(
        "domain",
        &[
            "sea_orm",
            "async_graphql",
            "axum",
            "tokio",
            "crate::db",
            "crate::service",
            "crate::graphql",
            "crate::http",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn services_import_neither_the_graphql_nor_the_http_layer() {
    assert!(files_of("service").len() > 30);
    let found = offences(
        "service",
        &["crate::graphql", "crate::http", "async_graphql", "axum"],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_database_layer_imports_no_service_and_nothing_above_it() {
    assert!(files_of("db").iter().any(|f| f.ends_with("counts.rs")));
    let found = offences("db", &["crate::service", "crate::graphql", "crate::http"]);
    assert!(found.is_empty(), "{found:#?}");
}
