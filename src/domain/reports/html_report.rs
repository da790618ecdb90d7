//! Self-contained HTML reports, for scrutiny committees to read on screen or on paper: a
//! title, lines of metadata, and sections of paragraphs, tables, figures (inline SVG
//! charts from [`crate::domain::reports::charts`]) and notes.
//!
//! The document needs nothing from outside: the styles are inline, there is no script,
//! no image to fetch and no font to download. It prints in black on white, with headings
//! kept with what follows them and tables and figures not split across pages. Every piece
//! of text is escaped. Suppressed table cells show `[c]` (the Government Statistical
//! Service's mark for a value withheld to protect confidentiality), with a footnote under
//! each table that has one. The output is well-formed XML as well as HTML, so a test can
//! parse it whole.

use crate::domain::reports::charts::{FigureKey, escape, figure_value, thousands};

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
    /// A figure of the report, marked with where it sits (see [`FigureKey`]): its text and
    /// exact value, or the suppressed mark when `value` is `None`. Aligned right.
    Figure {
        /// Where it sits.
        key: FigureKey,
        /// As read.
        text: String,
        /// The exact value; `None` when suppressed.
        value: Option<String>,
    },
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

    /// A marked count (with thousands separators), or the marked suppressed mark.
    pub fn marked_count(key: FigureKey, count: Option<u64>) -> Self {
        Self::Figure {
            key,
            text: count.map_or_else(|| SUPPRESSED.to_owned(), thousands),
            value: count.map(|c| c.to_string()),
        }
    }

    /// A marked figure, `text` as read, `value` exact.
    pub fn marked(key: FigureKey, text: impl Into<String>, value: f64) -> Self {
        Self::Figure {
            key,
            text: text.into(),
            value: Some(figure_value(value)),
        }
    }

    fn is_suppressed(&self) -> bool {
        matches!(self, Self::Suppressed | Self::Figure { value: None, .. })
    }
}

/// A piece of a paragraph: text, or a figure marked with where it sits.
#[derive(Clone, Debug, PartialEq)]
pub enum Inline {
    /// Plain text, escaped when the report is written.
    Text(String),
    /// A figure: its text as read and its exact value.
    Figure {
        /// Where it sits.
        key: FigureKey,
        /// As read.
        text: String,
        /// The exact value.
        value: String,
    },
}

impl Inline {
    /// A piece of plain text, escaped when the report is written.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A figure, `text` as read, `value` exact.
    pub fn figure(key: FigureKey, text: impl Into<String>, value: f64) -> Self {
        Self::Figure {
            key,
            text: text.into(),
            value: figure_value(value),
        }
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
        cells().any(|cell| matches!(cell, Cell::Number(_) | Cell::Figure { .. }))
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
                    Cell::Figure {
                        key,
                        text,
                        value: Some(value),
                    } => out.push_str(&format!(
                        "<td class=\"number\"{}>{}</td>",
                        key.attributes(Some(value)),
                        escape(text)
                    )),
                    Cell::Figure {
                        key, value: None, ..
                    } => out.push_str(&format!(
                        "<td class=\"number suppressed\"{}><abbr title=\"suppressed\">{}</abbr></td>",
                        key.attributes(None),
                        escape(SUPPRESSED)
                    )),
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        if self.rows.iter().flatten().any(Cell::is_suppressed) {
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
    Marked(Vec<Inline>),
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

    /// The section with a paragraph of text and marked figures added.
    #[must_use]
    pub fn marked_paragraph(mut self, pieces: Vec<Inline>) -> Self {
        self.blocks.push(Block::Marked(pieces));
        self
    }

    /// The section with a table added.
    #[must_use]
    pub fn table(mut self, table: Table) -> Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// The section with a figure added: an SVG chart, inlined as it is, and its caption.
    /// The SVG is markup, not text, so it must come from [`crate::domain::reports::charts`] (which
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
                Block::Marked(pieces) => {
                    out.push_str("<p>");
                    for piece in pieces {
                        match piece {
                            Inline::Text(text) => out.push_str(&escape(text)),
                            Inline::Figure { key, text, value } => out.push_str(&format!(
                                "<data value=\"{}\"{}>{}</data>",
                                escape(value),
                                key.attributes(Some(value)),
                                escape(text)
                            )),
                        }
                    }
                    out.push_str("</p>");
                }
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
mod tests;
