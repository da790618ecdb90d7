//! The domain layer stays pure: no database, web or GraphQL code in `src/domain`.

use std::path::Path;

#[test]
fn the_domain_layer_imports_no_framework() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let forbidden = [
        "sea_orm",
        "async_graphql",
        "axum",
        "tokio",
        "crate::db",
        "crate::service",
        "crate::graphql",
        "crate::http",
    ];
    let mut offences = Vec::new();
    // Files of modules split into folders (`domain/charts/`) are read too.
    let mut folders = vec![dir];
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("charts/bars.rs")));
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for name in forbidden {
            if text.contains(name) {
                offences.push(format!("{} uses {name}", path.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}
