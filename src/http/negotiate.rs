//! Content negotiation for `/graphql`, per the GraphQL-over-HTTP specification.
//!
//! The response is `application/graphql-response+json` only when the client names it;
//! a missing `Accept`, `*/*` or `application/json` gets `application/json` (what older
//! clients understand). `text/html` is noticed so browsers get GraphiQL.
//!
//! Parsed here, in a few lines: only each media range's type and quality matter, and the
//! precedence (which type wins, when to answer 406) is the specification's own, which no
//! general `Accept` parser encodes.

/// The response media types we speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/json`: request errors still answer 200 (legacy clients expect it).
    Json,
    /// `application/graphql-response+json`: request errors answer 4xx without `data`.
    GraphqlResponseJson,
}

impl ResponseType {
    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// What the `Accept` header asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The JSON flavour to answer with, or `None` when nothing we speak is acceptable.
    pub response: Option<ResponseType>,
    /// Whether `text/html` was named explicitly (a browser).
    pub wants_html: bool,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// One parsed media range: its type and its quality.
struct MediaRange<'a> {
    essence: &'a str,
    q: f32,
}

fn parse_ranges(header: &str) -> Vec<MediaRange<'_>> {
    header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let essence = pieces.next()?.trim();
            if essence.is_empty() {
                return None;
            }
            let q = pieces
                .filter_map(|param| param.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, value)| value.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(MediaRange { essence, q })
        })
        .collect()
}

/// The quality given to `media` (exact match beats `type/*`, which beats `*/*`), and
/// whether it was named exactly.
fn quality(ranges: &[MediaRange<'_>], media: &str) -> (f32, bool) {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    let mut best: Option<(u8, f32)> = None;
    for range in ranges {
        let specificity = if range.essence.eq_ignore_ascii_case(media) {
            3
        } else if range
            .essence
            .strip_suffix("/*")
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        {
            2
        } else if range.essence == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, range.q));
        }
    }
    best.map_or((0.0, false), |(s, q)| (q, s == 3))
}

/// Decides the response type from an `Accept` header value (`None` when absent).
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    let Some(header) = accept.filter(|h| !h.trim().is_empty()) else {
        return Negotiated {
            response: Some(ResponseType::Json),
            wants_html: false,
        };
    };
    let ranges = parse_ranges(header);
    let (gql_q, gql_named) = quality(&ranges, GRAPHQL_RESPONSE);
    let (json_q, _) = quality(&ranges, JSON);
    let (html_q, html_named) = quality(&ranges, "text/html");
    let response = if gql_named && gql_q > 0.0 && gql_q >= json_q {
        Some(ResponseType::GraphqlResponseJson)
    } else if json_q > 0.0 {
        Some(ResponseType::Json)
    } else if gql_q > 0.0 {
        Some(ResponseType::GraphqlResponseJson)
    } else {
        None
    };
    Negotiated {
        response,
        wants_html: html_named && html_q > 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(accept: Option<&str>) -> Option<ResponseType> {
        negotiate(accept).response
    }

    #[test]
    fn a_missing_or_wildcard_accept_gets_plain_json() {
        assert_eq!(response(None), Some(ResponseType::Json));
        assert_eq!(response(Some("*/*")), Some(ResponseType::Json));
        assert_eq!(response(Some("application/*")), Some(ResponseType::Json));
    }

    #[test]
    fn naming_graphql_response_json_gets_it_unless_json_is_preferred() {
        assert_eq!(
            response(Some("application/graphql-response+json")),
            Some(ResponseType::GraphqlResponseJson)
        );
        assert_eq!(
            response(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(ResponseType::GraphqlResponseJson)
        );
        assert_eq!(
            response(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(ResponseType::Json)
        );
    }

    #[test]
    fn an_accept_with_nothing_we_speak_is_not_acceptable() {
        assert_eq!(response(Some("text/plain")), None);
        assert_eq!(response(Some("application/json;q=0")), None);
    }

    #[test]
    fn a_browser_is_noticed_by_its_explicit_html() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let negotiated = negotiate(Some(browser));
        assert!(negotiated.wants_html);
        assert_eq!(negotiated.response, Some(ResponseType::Json));
        assert!(!negotiate(Some("*/*")).wants_html);
    }
}
