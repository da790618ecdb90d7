//! Residents' pages as a browser gets them: self-contained, small, safe headers, the
//! council's name and colour.

use crate::helpers::TestApp;

/// Every `src` and `href` in `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\"", "action=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            found.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    found
}

#[tokio::test]
async fn a_page_loads_nothing_from_elsewhere_runs_no_script_and_is_small() {
    let app = TestApp::spawn_with(|config| {
        config.council_name = "Tewkesbury <Borough> Council".to_owned();
        config.brand_colour = "#005a30".to_owned();
    })
    .await;
    let page = app.get("/t/u/cpc_any_token", None).await;
    assert_eq!(page.status, 200);
    let header = |name: &str| page.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
    // The council's name, escaped; one heading; the language said.
    assert!(page.text.contains("Tewkesbury &lt;Borough&gt; Council"));
    assert_eq!(page.text.matches("<h1>").count(), 1);
    assert!(page.text.contains("<html lang=\"en\">"));
    assert!(!page.text.contains("<script"), "no script");
    assert!(!page.text.contains("style="), "no inline style");
    for reference in references(&page.text) {
        assert!(
            reference.starts_with('/') || reference.starts_with('#'),
            "{reference} leaves the site"
        );
    }
    let css = app.get("/assets/site.css", None).await;
    assert_eq!(css.status, 200);
    assert!(
        css.text.starts_with(":root{--brand:#005a30}"),
        "{}",
        css.text
    );
    assert!(!css.text.contains("url("), "the stylesheet loads nothing");
    let weight = page.bytes.len() + css.bytes.len();
    assert!(weight <= 50 * 1024, "{weight} bytes");
}

#[tokio::test]
async fn the_stop_page_escapes_the_token_it_posts_back_to() {
    let app = TestApp::spawn().await;
    let page = app.get("/t/u/a%22b%3Cc", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("action=\"/t/u/a%22b%3Cc\""),
        "{}",
        page.text
    );
    // An unknown token's button still says it is done: the page tells nobody which
    // tokens exist.
    let pressed = app.post_form("/t/u/cpc_nobody", "from=page").await;
    assert_eq!(pressed.status, 303);
    assert_eq!(pressed.headers["location"], "/t/u/cpc_nobody?done=1");
}

/// The words a reader sees in a page's main part, a sentence to each heading, paragraph
/// and button.
fn main_text(html: &str) -> String {
    let start = html.find("<main").expect("a main part");
    let end = html.find("</main>").expect("a main part");
    let mut text = String::new();
    let mut in_tag = false;
    let main = html[start..end]
        .replace("</h1>", ". ")
        .replace("</h2>", ". ")
        .replace("</p>", " ")
        .replace("</button>", ". ");
    for c in main.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

#[tokio::test]
async fn the_pages_read_at_a_reading_age_of_nine_or_below() {
    use civic_panel::domain::consultations::readability::{DEFAULT_TARGET_READING_AGE, score};
    let app = TestApp::spawn().await;
    for uri in ["/t/u/cpc_any", "/t/u/cpc_any?done=1"] {
        let page = app.get(uri, None).await;
        let text = main_text(&page.text);
        let readability = score(&text).expect("words");
        assert!(
            !readability.above(DEFAULT_TARGET_READING_AGE),
            "{uri} reads at {:.1}: {text:?} {:?}",
            readability.reading_age,
            readability.longest_sentences
        );
    }
}
