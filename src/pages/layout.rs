//! The frame of every resident page: the council's name in a header of its colour, the
//! page's heading and content, and the headers that keep the page to itself.
//!
//! The markup follows the GOV.UK Design System's patterns (a skip link, one `h1` a page,
//! buttons as real `<button>`s, confirmation panels), styled by our own stylesheet: no
//! crown, no GOV.UK typeface, the system's own fonts.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::state::AppState;

/// What a page may load: its own stylesheet and images, forms posted to itself, nothing
/// else (no script at all, inline or not).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
    img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A whole page titled `title`, with `content` under its heading.
pub fn page(state: &AppState, title: &str, content: Markup) -> Response {
    let council = &state.config.council_name;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – " (council) }
                link rel="stylesheet" href="/assets/site.css";
            }
            body {
                a class="skip" href="#main" { "Skip to main content" }
                header class="banner" {
                    p class="council" { (council) }
                }
                main id="main" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// `GET /assets/site.css`: the pages' stylesheet in the council's colour (checked at start
/// to carry white text at WCAG AA contrast). Mobile first: one column, large targets.
pub async fn stylesheet(State(state): State<AppState>) -> Response {
    let brand = &state.config.brand_colour;
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        format!(":root{{--brand:{brand}}}\n{STYLES}"),
    )
        .into_response()
}

/// The stylesheet after the brand colour: text 19px on phones, dark on white (contrast
/// above 15:1), a visible yellow focus ring as GOV.UK's pattern has it.
const STYLES: &str = "\
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif;font-size:1.1875rem;line-height:1.5;color:#0b0c0c;background:#fff}
.skip{position:absolute;left:-9999px}
.skip:focus{position:static;display:block;padding:.5rem 1rem;background:#fd0;color:#0b0c0c}
.banner{background:var(--brand);color:#fff;padding:.75rem 1rem}
.council{margin:0;font-weight:700;font-size:1.25rem}
main{max-width:40rem;margin:0 auto;padding:1rem 1rem 3rem}
h1{font-size:2rem;line-height:1.2;margin:1.5rem 0 1rem}
p{margin:0 0 1rem}
a{color:#1d70b8}
a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #fd0;outline-offset:0;box-shadow:0 0 0 6px #0b0c0c}
button{font:inherit;font-weight:700;color:#fff;background:var(--brand);border:0;border-bottom:3px solid #0b0c0c;padding:.6rem 1.2rem;min-height:44px;cursor:pointer}
.panel{background:var(--brand);color:#fff;padding:1.5rem;margin:0 0 1.5rem;text-align:center}
.panel h2{margin:0;font-size:1.75rem}
";
