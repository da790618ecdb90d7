//! Self-contained HTML reports, for scrutiny committees to read on screen or on paper: a
//! title, lines of metadata, and sections of paragraphs, tables, figures (inline SVG
//! charts from [`super::charts`]) and notes.
//!
//! The document needs nothing from outside: the styles are inline, there is no script,
//! no image to fetch and no font to download. It prints in black on white, with headings
//! kept with what follows them and tables and figures not split across pages. Every piece
//! of text is escaped. Suppressed table cells show `[c]` (the Government Statistical
//! Service's mark for a value withheld to protect confidentiality), with a footnote under
//! each table that has one. The output is well-formed XML as well as HTML, so a test can
//! parse it whole.

use super::charts::{escape, thousands};

/// The mark shown in place of a suppressed value.
pub const SUPPRESSED: &str = "[c]";

/// What the footnote under a table with suppressed cells says.
pub const SUPPRESSION_NOTE: &str = "[c] Suppressed to protect confidentiality: the count \
    is too small to publish, or could be worked out from the other figures if it were shown.";

/// The styles: readable on screen, black on white on paper.
const STYLE: &str = "\
body{font-family:Arial,Helvetica,sans-serif;color:#000;background:#fff;\
max-width:50em;margin:2em auto;padding:0 1em;line-height:1.45}\
h1{font-size:1.7em;margin:0 0 .4em}\
h2{font-size:1.3em;margin:1.6em 0 .5em;border-bottom:1px solid #000}\
dl.metadata{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;margin:0 0 1.5em}\
dl.metadata dt{font-weight:bold}\
dl.metadata dd{margin:0}\
table{border-collapse:collapse;margin:1em 0 .3em;font-variant-numeric:tabular-nums}\
caption{text-align:left;font-weight:bold;padding-bottom:.3em}\
th,td{border-bottom:1px solid #777;padding:.25em .6em;text-align:left;vertical-align:top}\
thead th{border-bottom:2px solid #000}\
.number{text-align:right}\
.suppressed{font-weight:bold}\
.footnote{font-size:.9em;margin:.2em 0 1em}\
figure{margin:1.2em 0}\
figure svg{max-width:100%;height:auto}\
figcaption{font-size:.95em;margin-top:.3em}\
.note{border-left:4px solid #000;padding:.2em .8em;margin:1em 0}\
@page{size:A4;margin:18mm 16mm}\
@media print{\
body{max-width:none;margin:0;padding:0;font-size:10.5pt;color:#000;background:#fff}\
h1,h2{break-after:avoid;page-break-after:avoid}\
table,figure,.note,.footnote{break-inside:avoid;page-break-inside:avoid}\
thead{display:table-header-group}\
tr{break-inside:avoid;page-break-inside:avoid}\
}";

/// A table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text, aligned left.
    Text(String),
    /// A number already formatted for reading ("1,234", "41.1%"), aligned right.
    Number(String),
    /// A value withheld for disclosure control, shown as [`SUPPRESSED`].
    Suppressed,
}

impl Cell {
    /// A text cell.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A number cell with text already formatted.
    pub fn number(text: impl Into<String>) -> Self {
        Self::Number(text.into())
    }

    /// A count, with thousands separators.
    pub fn count(count: u64) -> Self {
        Self::Number(thousands(count))
    }

    /// A count, or the suppressed mark for `None`.
    pub fn count_or_suppressed(count: Option<u64>) -> Self {
        count.map_or(Self::Suppressed, Self::count)
    }
}

/// A table: a caption, a header row and rows of cells. A column whose cells are all
/// numbers (or suppressed) has its heading aligned right with them; the first cell of a
/// row, when it is text, heads the row.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    caption: String,
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with its caption and column headings and no rows yet.
    pub fn new(caption: impl Into<String>, header: &[&str]) -> Self {
        Self {
            caption: caption.into(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// The table with one more row.
    #[must_use]
    pub fn row(mut self, cells: Vec<Cell>) -> Self {
        self.rows.push(cells);
        self
    }

    /// Whether column `c` holds numbers: at least one, and nothing but numbers and
    /// suppressed values.
    fn is_numeric(&self, c: usize) -> bool {
        let cells = || self.rows.iter().filter_map(|row| row.get(c));
        cells().any(|cell| matches!(cell, Cell::Number(_)))
            && cells().all(|cell| !matches!(cell, Cell::Text(_)))
    }

    fn render(&self, out: &mut String) {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let numeric: Vec<bool> = (0..columns).map(|c| self.is_numeric(c)).collect();
        out.push_str("<table>");
        out.push_str(&format!("<caption>{}</caption>", escape(&self.caption)));
        if !self.header.is_empty() {
            out.push_str("<thead><tr>");
            for (c, heading) in self.header.iter().enumerate() {
                let class = if numeric[c] { " class=\"number\"" } else { "" };
                out.push_str(&format!(
                    "<th scope=\"col\"{class}>{}</th>",
                    escape(heading)
                ));
            }
            out.push_str("</tr></thead>");
        }
        out.push_str("<tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for (c, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Text(text) if c == 0 => {
                        out.push_str(&format!("<th scope=\"row\">{}</th>", escape(text)));
                    }
                    Cell::Text(text) => out.push_str(&format!("<td>{}</td>", escape(text))),
                    Cell::Number(text) => {
                        out.push_str(&format!("<td class=\"number\">{}</td>", escape(text)));
                    }
                    Cell::Suppressed => out.push_str(&format!(
                        "<td class=\"number suppressed\"><abbr title=\"suppressed\">{}</abbr></td>",
                        escape(SUPPRESSED)
                    )),
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        if self.rows.iter().flatten().any(|c| *c == Cell::Suppressed) {
            out.push_str(&format!(
                "<p class=\"footnote\">{}</p>",
                escape(SUPPRESSION_NOTE)
            ));
        }
    }
}

/// A part of a section.
#[derive(Clone, Debug, PartialEq)]
enum Block {
    Paragraph(String),
    Table(Table),
    Figure { svg: String, caption: String },
    Note(String),
}

/// A section of a report: a heading and what follows it, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    heading: String,
    blocks: Vec<Block>,
}

impl Section {
    /// A section with its heading and nothing under it yet.
    pub fn new(heading: impl Into<String>) -> Self {
        Self {
            heading: heading.into(),
            blocks: Vec::new(),
        }
    }

    /// The section with a paragraph of text added.
    #[must_use]
    pub fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// The section with a table added.
    #[must_use]
    pub fn table(mut self, table: Table) -> Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// The section with a figure added: an SVG chart, inlined as it is, and its caption.
    /// The SVG is markup, not text, so it must come from [`super::charts`] (which
    /// escapes everything in it), never from what a user typed.
    #[must_use]
    pub fn figure(mut self, svg: impl Into<String>, caption: impl Into<String>) -> Self {
        self.blocks.push(Block::Figure {
            svg: svg.into(),
            caption: caption.into(),
        });
        self
    }

    /// The section with a note added: a remark set apart from the text.
    #[must_use]
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Note(text.into()));
        self
    }

    fn render(&self, out: &mut String) {
        out.push_str(&format!("<section><h2>{}</h2>", escape(&self.heading)));
        for block in &self.blocks {
            match block {
                Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>", escape(text))),
                Block::Table(table) => table.render(out),
                Block::Figure { svg, caption } => out.push_str(&format!(
                    "<figure>{}<figcaption>{}</figcaption></figure>",
                    svg.trim(),
                    escape(caption)
                )),
                Block::Note(text) => out.push_str(&format!(
                    "<div class=\"note\" role=\"note\"><p><strong>Note:</strong> {}</p></div>",
                    escape(text)
                )),
            }
        }
        out.push_str("</section>");
    }
}

/// A report: a title, lines of metadata (label and value: the council, the panel, the
/// date) and sections.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    title: String,
    metadata: Vec<(String, String)>,
    sections: Vec<Section>,
}

impl Document {
    /// A report with its title and nothing else yet.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            metadata: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// The report with a line of metadata added.
    #[must_use]
    pub fn metadata(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((label.into(), value.into()));
        self
    }

    /// The report with a section added.
    #[must_use]
    pub fn section(mut self, section: Section) -> Self {
        self.sections.push(section);
        self
    }

    /// The whole HTML document.
    pub fn render(&self) -> String {
        let title = escape(&self.title);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en-GB\">\
             <head><meta charset=\"utf-8\"/>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
             <title>{title}</title><style>{STYLE}</style></head><body><main><h1>{title}</h1>"
        );
        if !self.metadata.is_empty() {
            out.push_str("<dl class=\"metadata\">");
            for (label, value) in &self.metadata {
                out.push_str(&format!(
                    "<dt>{}</dt><dd>{}</dd>",
                    escape(label),
                    escape(value)
                ));
            }
            out.push_str("</dl>");
        }
        for section in &self.sections {
            section.render(&mut out);
        }
        out.push_str("</main></body></html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charts::{self, Series};

    const HOSTILE: &str = "<script>alert('x')</script> & \"Ward\" <b>";

    fn report() -> Document {
        let chart = charts::grouped_bars(
            "Age of the panel",
            "Shares by age band.",
            &["16–24", "25–44"],
            &[Series {
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
        let words =
            Document::new("t")
                .section(Section::new("s").table(
                    Table::new("c", &["a", "b"]).row(vec![Cell::text("x"), Cell::text("y")]),
                ))
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
}
