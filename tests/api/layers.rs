//! The layers keep to their order: `domain` imports no framework and nothing above it;
//! `db` imports no service, GraphQL or HTTP code; the shared state imports no service;
//! services import neither the GraphQL nor the HTTP layer (IDs given to a service are
//! decoded by `crate::global_id`, below both); and no two modules import each other, however
//! long the way round. Read from the source files, so a new import across a line fails here.

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
fn the_pages_stand_beside_the_api_and_import_neither_it_nor_http() {
    // `http → (graphql | pages) → service`: the pages reach data only through services.
    assert!(files_of("pages").iter().any(|f| f.ends_with("layout.rs")));
    let found = offences("pages", &["crate::graphql", "crate::http", "async_graphql"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_database_layer_imports_no_service_and_nothing_above_it() {
    assert!(files_of("db").iter().any(|f| f.ends_with("counts.rs")));
    let found = offences("db", &["crate::service", "crate::graphql", "crate::http"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_shared_state_imports_no_service() {
    assert!(files_of("state").iter().any(|f| f.ends_with("caches.rs")));
    let found = offences(
        "state",
        &[
            "crate::service",
            "crate::graphql",
            "crate::http",
            "crate::jobs",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

/// A module's path from `src/` (`graphql::jobs::node`), for every `.rs` file of the crate.
fn modules() -> Vec<(Vec<String>, PathBuf)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for path in files_of("") {
        let relative = path.strip_prefix(&src).unwrap().with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        found.push((parts, path));
    }
    found
}

/// The paths a source text names from the crate's root: `crate::a::b::C` and `super::x`
/// (resolved against `module`), braces expanded (`crate::a::{b, c::D}` names `a::b` and
/// `a::c::D`).
fn named_paths(text: &str, module: &[String], is_folder: bool) -> Vec<Vec<String>> {
    fn expand(prefix: &[String], tail: &str, into: &mut Vec<Vec<String>>) {
        let tail = tail.trim();
        if let Some(open) = tail.find('{') {
            let head: Vec<String> = split(&tail[..open]);
            let mut base = prefix.to_vec();
            base.extend(head);
            let inner = &tail[open + 1..tail.rfind('}').unwrap_or(tail.len())];
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&base, &inner[start..i], into);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&base, &inner[start..], into);
        } else {
            let mut path = prefix.to_vec();
            path.extend(split(tail));
            into.push(path);
        }
    }
    fn split(text: &str) -> Vec<String> {
        text.split("::")
            .map(|s| s.split_whitespace().next().unwrap_or("").to_owned())
            .filter(|s| !s.is_empty() && s != "self" && s != "*")
            .collect()
    }
    let mut paths = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            // The path runs to the first character no path holds (braces kept balanced).
            let (mut depth, mut end) = (0i32, at);
            for (i, c) in text[at..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth > 0 => depth -= 1,
                    c if c.is_alphanumeric() || c == '_' || c == ':' => {}
                    ',' | ' ' | '\n' | '*' if depth > 0 => {}
                    _ => {
                        end = at + i;
                        break;
                    }
                }
                end = at + i + c.len_utf8();
            }
            let mut prefix: Vec<String> = Vec::new();
            let mut rest = &text[at..end];
            if start == "super::" {
                // A folder's `mod.rs` is its module; any other file is a module of its folder.
                let mut base = module.to_vec();
                if !is_folder || base.is_empty() {
                    base.pop();
                }
                while let Some(after) = rest.strip_prefix("super::") {
                    rest = after;
                    base.pop();
                }
                prefix = base;
            } else {
                rest = &rest["crate::".len()..];
            }
            expand(&prefix, rest, &mut paths);
        }
    }
    paths
}

#[test]
fn no_modules_import_each_other_round_a_loop() {
    let modules = modules();
    let index: std::collections::HashMap<&[String], usize> = modules
        .iter()
        .enumerate()
        .map(|(i, (m, _))| (m.as_slice(), i))
        .collect();
    // An arrow from each file to every module it names, by the longest path that is a file;
    // a file's own ancestors and descendants are its room, not a dependency.
    let mut arrows: Vec<Vec<usize>> = vec![Vec::new(); modules.len()];
    for (from, (module, path)) in modules.iter().enumerate() {
        // Comments (doc links included) name modules without importing them.
        let text: String = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let is_folder = path.file_stem().is_some_and(|s| s == "mod");
        for named in named_paths(&text, module, is_folder) {
            let Some(to) = (1..=named.len())
                .rev()
                .find_map(|n| index.get(&named[..n]).copied())
            else {
                continue;
            };
            let other = &modules[to].0;
            if other.starts_with(module) || module.starts_with(other) {
                continue;
            }
            if !arrows[from].contains(&to) {
                arrows[from].push(to);
            }
        }
    }
    assert!(
        arrows.iter().map(Vec::len).sum::<usize>() > 300,
        "imports are read"
    );
    // Depth-first search; a grey module met again closes a loop.
    let mut colour = vec![0u8; modules.len()];
    let mut loops = Vec::new();
    fn visit(
        at: usize,
        arrows: &[Vec<usize>],
        colour: &mut [u8],
        trail: &mut Vec<usize>,
        loops: &mut Vec<Vec<usize>>,
    ) {
        colour[at] = 1;
        trail.push(at);
        for &next in &arrows[at] {
            match colour[next] {
                0 => visit(next, arrows, colour, trail, loops),
                1 => {
                    let start = trail.iter().position(|&m| m == next).unwrap();
                    loops.push(trail[start..].to_vec());
                }
                _ => {}
            }
        }
        trail.pop();
        colour[at] = 2;
    }
    for start in 0..modules.len() {
        if colour[start] == 0 {
            visit(start, &arrows, &mut colour, &mut Vec::new(), &mut loops);
        }
    }
    let named: Vec<String> = loops
        .iter()
        .map(|l| {
            l.iter()
                .map(|&m| modules[m].0.join("::"))
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert!(named.is_empty(), "import loops:\n{}", named.join("\n"));
}

#[test]
fn services_and_the_api_hold_no_hand_written_sql() {
    // Statements, their backend branches and the reading of raw rows live in `db/`;
    // services call its named functions.
    let forbidden = [
        "Statement::",
        "query_all_raw",
        "query_one_raw",
        "execute_raw",
        "execute_unprepared",
        "get_database_backend",
        "DatabaseBackend",
        "DbBackend",
        "crate::db::sql",
        "find_by_statement",
        "SELECT ",
        " FROM ",
        "\"FROM ",
        " WHERE ",
        "\"WHERE ",
    ];
    let mut found = Vec::new();
    for folder in ["service", "graphql", "http", "pages", "jobs"] {
        found.extend(offences(folder, &forbidden));
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn which_rows_a_resident_owns_is_decided_only_by_the_views() {
    // The link from an account to its registrations, and from those to their
    // invitations and memberships, is followed in `db/views.rs` alone: a service asks for
    // a caller's view instead of reading a row and checking whose it is.
    let forbidden = ["resident::Column::AccountId", "r.account_id"];
    let mut found = Vec::new();
    for folder in ["service", "graphql", "http", "pages", "jobs"] {
        found.extend(offences(folder, &forbidden));
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn every_foreign_key_of_an_entity_is_a_typed_id() {
    // `panel_id: PanelId`, not `i64`: a round's id cannot be stored where a letter's is
    // meant, and services neither unwrap nor re-wrap them (`db/ids.rs`).
    let mut found = Vec::new();
    for path in files_of("db/entities") {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let Some((name, ty)) = line
                .trim()
                .strip_prefix("pub ")
                .and_then(|l| l.split_once(':'))
            else {
                continue;
            };
            let key = name.ends_with("_id") || name.ends_with("_by") || name == "by_account";
            if key && matches!(ty.trim().trim_end_matches(','), "i64" | "Option<i64>") {
                found.push(format!("{}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(files_of("db/entities").len() > 20);
    assert!(found.is_empty(), "{found:#?}");
}
