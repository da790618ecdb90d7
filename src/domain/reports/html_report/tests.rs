use super::*;
use crate::domain::reports::charts::{self, Series};

const HOSTILE: &str = "<script>alert('x')</script> & \"Ward\" <b>";

fn report() -> Document {
    let chart = charts::grouped_bars(
        "Age of the panel",
        "Shares by age band.",
        &["16–24", "25–44"],
        &[Series {
            key: None,
            name: "Panel".to_owned(),
            values: vec![None, Some(0.4)],
        }],
    );
    Document::new("Residents' panel: who took part")
        .metadata("Council", "Tewkesbury Borough Council")
        .metadata("Round", "Spring 2027")
        .section(
            Section::new("Who responded")
                .paragraph("Respondents by age band, against the population.")
                .table(
                    Table::new(
                        "Respondents by age band",
                        &["Age band", "Respondents", "Share"],
                    )
                    .row(vec![
                        Cell::text("16–24"),
                        Cell::count_or_suppressed(None),
                        Cell::Suppressed,
                    ])
                    .row(vec![
                        Cell::text("25–44"),
                        Cell::count(1_234),
                        Cell::number("41.1%"),
                    ]),
                )
                .figure(chart, "Figure 1: age of the panel.")
                .note("Shares are of respondents who gave their age."),
        )
}

#[test]
fn a_report_is_one_well_formed_document_that_needs_nothing_from_outside() {
    let html = report().render();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en-GB\">"));
    let document = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {html}"));
    let tags: Vec<&str> = document
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    for tag in [
        "title", "style", "h1", "dl", "section", "h2", "table", "figure", "svg",
    ] {
        assert!(tags.contains(&tag), "{tag}");
    }
    for tag in ["script", "link", "img", "iframe", "object"] {
        assert!(!tags.contains(&tag), "{tag}");
    }
    for outside in ["src=", "href=", "url(", "@import", "javascript:"] {
        assert!(!html.contains(outside), "{outside}");
    }
    // Printed: black text, headings kept with what follows, tables not split.
    for rule in [
        "@media print{",
        "color:#000",
        "h1,h2{break-after:avoid;page-break-after:avoid}",
        "table,figure,.note,.footnote{break-inside:avoid;page-break-inside:avoid}",
        "thead{display:table-header-group}",
    ] {
        assert!(html.contains(rule), "{rule}");
    }
    assert_eq!(html, report().render());
}

#[test]
fn numbers_are_aligned_right_and_suppressed_cells_marked_with_a_footnote() {
    let html = report().render();
    assert!(html.contains(
        "<tr><th scope=\"col\">Age band</th><th scope=\"col\" class=\"number\">\
         Respondents</th><th scope=\"col\" class=\"number\">Share</th></tr>"
    ));
    assert!(html.contains(
        "<tr><th scope=\"row\">25–44</th><td class=\"number\">1,234</td>\
         <td class=\"number\">41.1%</td></tr>"
    ));
    let mark = "<td class=\"number suppressed\"><abbr title=\"suppressed\">[c]</abbr></td>";
    assert_eq!(html.matches(mark).count(), 2);
    // One footnote for the table, right under it.
    assert_eq!(
        html.matches("<p class=\"footnote\">[c] Suppressed").count(),
        1
    );
    assert!(html.contains("</table><p class=\"footnote\">"));
    // A table with nothing suppressed has no footnote.
    let plain = Document::new("t")
        .section(Section::new("s").table(Table::new("c", &["a"]).row(vec![Cell::count(3)])))
        .render();
    assert!(!plain.contains("footnote\">"));
    // A column of text stays left-aligned.
    assert!(plain.contains("<th scope=\"col\" class=\"number\">a</th>"));
    let words = Document::new("t")
        .section(
            Section::new("s")
                .table(Table::new("c", &["a", "b"]).row(vec![Cell::text("x"), Cell::text("y")])),
        )
        .render();
    assert!(words.contains("<th scope=\"col\">b</th>") && words.contains("<td>y</td>"));
}

#[test]
fn every_piece_of_text_is_escaped() {
    let html = Document::new(HOSTILE)
        .metadata(HOSTILE, HOSTILE)
        .section(
            Section::new(HOSTILE)
                .paragraph(HOSTILE)
                .table(
                    Table::new(HOSTILE, &[HOSTILE, HOSTILE])
                        .row(vec![Cell::text(HOSTILE), Cell::number(HOSTILE)]),
                )
                .figure(charts::funnel(HOSTILE, HOSTILE, &[]), HOSTILE)
                .note(HOSTILE),
        )
        .render();
    assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
    let escaped =
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Ward&quot; &lt;b&gt;";
    // Title (twice), metadata (2), heading, paragraph, caption, headings (2), cells
    // (2), the chart's title and description, the figure's caption, the note.
    assert_eq!(html.matches(escaped).count(), 15);
    roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap();
}
