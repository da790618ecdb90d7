//! Doc comments must tell the reader something the item's name does not.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Words that carry nothing of their own in a short doc comment.
const FILLER: &[&str] = &[
    "the", "a", "an", "its", "of", "this", "it", "s", "is", "id", "in", "for", "to", "as",
];

/// Words that say no more than an `id` does.
const ID_WORDS: &[&str] = &["opaque", "identifier"];

// A comment such as `/// The consultation.` above `consultation_id` tells the reader
// nothing, and in src/graphql it is also the description API clients read. Such a comment
// should say what the name cannot (units, who may see it, when it is empty, what it is
// for), or go.
#[test]
fn no_one_line_doc_comment_only_repeats_the_name_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut repeating = Vec::new();
    for path in files {
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            if !is_doc(lines[i]) {
                i += 1;
                continue;
            }
            let end = (i..lines.len())
                .find(|&j| !is_doc(lines[j]))
                .unwrap_or(lines.len());
            if end == i + 1
                && let Some(name) = item_below(&lines, end)
            {
                let comment = lines[i].trim_start().trim_start_matches('/').trim();
                if only_repeats(comment, name) {
                    repeating.push(format!("{relative}:{}: /// {comment}  ({name})", i + 1));
                }
            }
            i = end;
        }
    }
    assert!(
        repeating.is_empty(),
        "These doc comments only repeat the name of the item below them. Say what the name \
         does not (units, who may see it, when it is empty, what it is for), or remove them \
         (outside src/graphql, where every field needs a description):\n{}",
        repeating.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_doc(line: &str) -> bool {
    line.trim_start().starts_with("///")
}

/// The name of the item that starts at or after line `from`, past blank lines and
/// attributes (an attribute may run over several lines); `None` when no item is there.
fn item_below<'a>(lines: &[&'a str], from: usize) -> Option<&'a str> {
    let mut k = from;
    while k < lines.len() {
        let line = lines[k].trim();
        if line.is_empty() {
            k += 1;
        } else if line.starts_with("#[") {
            let mut depth = 0_i32;
            loop {
                let line = lines.get(k)?;
                depth += line.matches('[').count() as i32 - line.matches(']').count() as i32;
                k += 1;
                if depth <= 0 {
                    break;
                }
            }
        } else {
            return item_name(line);
        }
    }
    None
}

/// The name an item line declares: a function, type, constant or module, or a field or
/// enum variant (a name followed by `:`, `(`, `,`, `{`, `=` or nothing).
fn item_name(line: &str) -> Option<&str> {
    let mut rest = line.trim();
    if let Some(after) = rest.strip_prefix("pub") {
        if let Some(scope) = after.strip_prefix('(') {
            rest = scope.split_once(')')?.1.trim_start();
        } else if after.starts_with(char::is_whitespace) {
            rest = after.trim_start();
        }
    }
    loop {
        let (word, after) = identifier(rest)?;
        let after = after.trim_start();
        match word {
            "async" | "unsafe" | "extern" | "default" => rest = after,
            "const"
                if identifier(after)
                    .is_some_and(|(w, _)| ["fn", "async", "unsafe"].contains(&w)) =>
            {
                rest = after;
            }
            "fn" | "struct" | "enum" | "const" | "type" | "mod" | "trait" | "static" | "union" => {
                let after = after.strip_prefix("mut ").unwrap_or(after).trim_start();
                return identifier(after).map(|(name, _)| name);
            }
            _ => {
                let next = after.chars().next();
                return matches!(next, None | Some(':' | '(' | ',' | '{' | '=')).then_some(word);
            }
        }
    }
}

/// The identifier `text` starts with, and what follows it.
fn identifier(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let starts_well = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    (end > 0 && starts_well).then(|| text.split_at(end))
}

/// Whether every word of `comment` but filler is a word of `name`. `opaque` and
/// `identifier` count as words of any name, but "Opaque identifier." alone only repeats
/// an `id`.
fn only_repeats(comment: &str, name: &str) -> bool {
    let said = words(comment);
    let named = words(name);
    let id_words: BTreeSet<String> = ID_WORDS.iter().map(|w| (*w).to_owned()).collect();
    !said.is_empty()
        && said
            .iter()
            .all(|w| named.contains(w) || id_words.contains(w))
        && (said != id_words || name == "id")
}

/// The words of `text`, lower-cased: split at anything but ASCII letters and digits and
/// inside camelCase, filler dropped, and a plural `s` taken off words of four letters or
/// more.
fn words(text: &str) -> BTreeSet<String> {
    let mut spaced = String::with_capacity(text.len());
    let mut after_lower = false;
    for c in text.chars() {
        if after_lower && c.is_ascii_uppercase() {
            spaced.push(' ');
        }
        after_lower = c.is_ascii_lowercase();
        spaced.push(c);
    }
    spaced
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .filter(|w| !FILLER.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if w.len() > 3 => stem.to_owned(),
            _ => w,
        })
        .collect()
}

#[test]
fn the_doc_comment_check_reads_names_and_words_as_meant() {
    assert!(only_repeats("Opaque identifier.", "id"));
    assert!(!only_repeats("Opaque identifier.", "panel_id"));
    assert!(only_repeats("The consultation.", "consultation_id"));
    assert!(only_repeats("The round's ID.", "round_id"));
    assert!(only_repeats("Its categories.", "categories"));
    assert!(only_repeats("Panel mutations.", "PanelMutation"));
    assert!(!only_repeats("When it was created.", "created_at"));
    assert!(!only_repeats(
        "The ID of the draft to change.",
        "consultation_id"
    ));
    assert_eq!(
        item_name("pub(super) async fn consultation_id(&self) -> ID {"),
        Some("consultation_id")
    );
    assert_eq!(item_name("pub const fn new() -> Self {"), Some("new"));
    assert_eq!(
        item_name("pub struct PanelMutation;"),
        Some("PanelMutation")
    );
    assert_eq!(item_name("    Female,"), Some("Female"));
    assert_eq!(
        item_name("pub consultation_id: ID,"),
        Some("consultation_id")
    );
    assert_eq!(item_name("impl Panel {"), None);
    let lines = [
        "/// The consultation.",
        "#[graphql(",
        "    desc = \"x\"",
        ")]",
        "",
        "pub consultation_id: ID,",
    ];
    assert_eq!(item_below(&lines, 1), Some("consultation_id"));
}
