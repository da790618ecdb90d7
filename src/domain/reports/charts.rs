//! Charts for reports, each a standalone SVG document: shares of categories side by side
//! ([`grouped_bars`]: population, panel and respondents by age band, say), the stages of
//! recruitment ([`funnel`]), and people's chances of selection against the equal-chance
//! line ([`probabilities`]).
//!
//! Pure functions from numbers to text. Every chart has a `<title>` and a `<desc>` (what a
//! screen reader reads, with the values themselves), escapes all text, leaves out or
//! clamps what is not a finite number, so that "NaN" and "inf" never appear, and gives
//! the same bytes for the same input. A value withheld for disclosure control is drawn
//! as a "suppressed" mark, never as a bar of zero. Colours come from Paul Tol's
//! high-contrast scheme (SRON technical note SRON/EPS/TN/09-002, "Colour schemes"),
//! chosen to be told apart by colour-blind readers and to stay three distinct greys when
//! printed in black and white; every value is also written beside its bar. No element has
//! an `id`, so any number of charts can sit in one HTML page.

mod bars;
mod funnel;
mod probabilities;

pub use bars::{Series, grouped_bars};

/// Where a figure drawn or printed sits in its published report, as the report's CSV
/// names it: table, group and measure. A drawn bar or a printed number carrying one is
/// marked with `data-table`, `data-group`, `data-measure` and its exact `data-value` (or
/// no `data-value` when suppressed), so a machine can read what a page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FigureKey {
    /// The table (`funnel`, `sex`, `question:satisfaction`, …).
    pub table: String,
    /// The group (a category's label, or `all`).
    pub group: String,
    /// The measure (`completed`, `respondent_share`, …).
    pub measure: String,
}

impl FigureKey {
    /// A key.
    pub fn new(
        table: impl Into<String>,
        group: impl Into<String>,
        measure: impl Into<String>,
    ) -> Self {
        Self {
            table: table.into(),
            group: group.into(),
            measure: measure.into(),
        }
    }

    /// The key as attributes (with a leading space), with `value` when it is shown.
    pub fn attributes(&self, value: Option<&str>) -> String {
        let mut out = format!(
            " data-table=\"{}\" data-group=\"{}\" data-measure=\"{}\"",
            escape(&self.table),
            escape(&self.group),
            escape(&self.measure)
        );
        if let Some(value) = value {
            out.push_str(&format!(" data-value=\"{}\"", escape(value)));
        }
        out
    }
}

/// A figure's value as marked, to six decimals (as the CSV writes every figure that is
/// not a count).
pub fn figure_value(value: f64) -> String {
    format!("{value:.6}")
}
pub use funnel::{Stage, funnel};
pub use probabilities::probabilities;

/// The charts' width in pixels (the `viewBox` scales them to their container).
const WIDTH: f64 = 640.0;

/// The average advance of a character at the charts' 12-pixel font size, to estimate
/// the width of text (there is no font to measure).
const CHAR_WIDTH: f64 = 6.6;

/// The column for category labels, left of the bars.
const LABEL_WIDTH: f64 = 170.0;

/// Fills of successive series: Paul Tol's high-contrast blue, yellow and red (dark,
/// light and middle grey in print), then white and black. All bars are outlined in black.
const FILLS: [&str; 5] = ["#004488", "#DDAA33", "#BB5566", "#FFFFFF", "#000000"];

/// Escapes text for XML or HTML, in content and in quoted attributes alike, and drops the
/// control characters neither may carry (tab and line breaks stay).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A coordinate, to a tenth of a pixel: 0 for anything not finite, and never "-0".
fn px(x: f64) -> String {
    let tenths = if x.is_finite() {
        (x * 10.0).round()
    } else {
        0.0
    };
    let text = format!("{:.1}", tenths / 10.0);
    let text = text.strip_suffix(".0").unwrap_or(&text);
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A share as a percentage with `decimals` places ("12.3%"); 0 for anything not finite,
/// and never "-0".
fn percent(share: f64, decimals: usize) -> String {
    let share = if share.is_finite() { share } else { 0.0 };
    let text = format!("{:.decimals$}", share * 100.0);
    match text.strip_prefix('-') {
        Some(zero) if zero.chars().all(|c| c == '0' || c == '.') => format!("{zero}%"),
        _ => format!("{text}%"),
    }
}

/// A count with thousands separators ("12,345").
pub fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `text` cut to at most `chars` characters, the last of them an ellipsis when it is cut.
fn truncate(text: &str, chars: usize) -> (String, bool) {
    if text.chars().count() <= chars {
        return (text.to_owned(), false);
    }
    let kept: String = text.chars().take(chars.saturating_sub(1)).collect();
    (format!("{}…", kept.trim_end()), true)
}

/// A share clamped to 0..1, or `None` when it is not a number.
fn share(value: f64) -> Option<f64> {
    value.is_finite().then(|| value.clamp(0.0, 1.0))
}

/// An axis of percentages from 0.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Axis {
    /// The step between ticks: 1, 2, 2.5 or 5 times a power of ten.
    step: f64,
    /// Steps from 0 to the axis's end.
    steps: usize,
    /// Decimal places a tick's percentage needs.
    decimals: usize,
}

impl Axis {
    /// An axis for values from 0 to `max` (at least `floor`): at most six round steps,
    /// ending at or above `max`.
    fn to(max: f64, floor: f64) -> Self {
        let max = if max.is_finite() {
            max.max(floor)
        } else {
            floor
        };
        let magnitude = 10f64.powf((max / 6.0).log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|step| step * 6.0 >= max)
            .unwrap_or(10.0 * magnitude);
        let steps = (max / step - 1e-9).ceil().max(1.0) as usize;
        let hundredths = (step * 10_000.0).round();
        let decimals = if hundredths % 100.0 == 0.0 {
            0
        } else if hundredths % 10.0 == 0.0 {
            1
        } else {
            2
        };
        Self {
            step,
            steps,
            decimals,
        }
    }

    /// The value at the axis's end.
    fn end(self) -> f64 {
        self.steps as f64 * self.step
    }

    /// Each tick's value and its label.
    fn ticks(self) -> impl Iterator<Item = (f64, String)> {
        (0..=self.steps).map(move |i| {
            let value = i as f64 * self.step;
            (value, percent(value, self.decimals))
        })
    }
}

/// The opening of a chart: the root element with its size, then its title and
/// description.
fn open(height: f64, title: &str, description: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"Arial, Helvetica, sans-serif\" \
         font-size=\"12\" fill=\"#000\"><title>{}</title><desc>{}</desc>\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#FFFFFF\"/>",
        escape(title),
        escape(description),
        w = px(WIDTH),
        h = px(height),
    )
}

/// A text element at (`x`, `y`) with extra attributes (markup written in this module,
/// put in as it is) and escaped content, cut to `chars` characters with the whole text
/// as its tooltip when cut.
fn text(x: f64, y: f64, attributes: &str, content: &str, chars: usize) -> String {
    let (shown, cut) = truncate(content, chars);
    let tooltip = if cut {
        format!("<title>{}</title>", escape(content))
    } else {
        String::new()
    };
    format!(
        "<text x=\"{}\" y=\"{}\"{attributes}>{tooltip}{}</text>",
        px(x),
        px(y),
        escape(&shown)
    )
}

/// The "suppressed" mark: a small dashed square where a bar would start, and the word.
fn suppressed_mark(x: f64, middle: f64, what: &str) -> String {
    format!(
        "<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"none\" \
         stroke=\"#000\" stroke-width=\"1\" stroke-dasharray=\"2 1.5\"/>{}</g>",
        escape(&format!("{what}: suppressed")),
        px(x),
        px(middle - 4.0),
        text(
            x + 12.0,
            middle + 4.0,
            " font-size=\"11\" font-style=\"italic\"",
            "suppressed",
            20
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const HOSTILE: &str = "<script>alert(\"x\")</script> & 'quoted' \u{0}\u{7}]]>";

    /// The chart parsed as XML, with its root checked: an SVG element in the SVG namespace
    /// with a size and a view box, whose first two children are its title and description.
    pub(super) fn parsed(svg: &str) -> roxmltree::Document<'_> {
        let document = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        for attribute in ["width", "height", "viewBox"] {
            assert!(root.attribute(attribute).is_some(), "{attribute}");
        }
        let names: Vec<&str> = root
            .children()
            .filter(|n| n.is_element())
            .take(2)
            .map(|n| n.tag_name().name())
            .collect();
        assert_eq!(names, ["title", "desc"]);
        document
    }

    /// The text of every element named `title` below the root.
    pub(super) fn tooltips(document: &roxmltree::Document<'_>) -> Vec<String> {
        document
            .descendants()
            .filter(|n| n.has_tag_name("title") && n.parent() != Some(document.root_element()))
            .map(|n| n.text().unwrap_or_default().to_owned())
            .collect()
    }

    /// Age bands with one suppressed value and one true zero.
    pub(super) fn shares() -> (Vec<&'static str>, Vec<Series>) {
        let categories = vec!["16–24", "25–44", "45–64", "65 and over"];
        let series = vec![
            Series {
                key: None,
                name: "Population".to_owned(),
                values: vec![Some(0.14), Some(0.33), Some(0.31), Some(0.22)],
            },
            Series {
                key: None,
                name: "Panel".to_owned(),
                values: vec![None, Some(0.30), Some(0.36), Some(0.28)],
            },
            Series {
                key: None,
                name: "Respondents".to_owned(),
                values: vec![Some(0.0), Some(0.25), Some(0.40), Some(0.35)],
            },
        ];
        (categories, series)
    }

    /// A recruitment funnel whose last count is suppressed.
    pub(super) fn stages() -> Vec<Stage> {
        vec![
            Stage {
                key: None,
                label: "Letters sent".to_owned(),
                count: Some(30_000),
                rate: None,
            },
            Stage {
                key: None,
                label: "Registered".to_owned(),
                count: Some(1_234),
                rate: Some(0.041_13),
            },
            Stage {
                key: None,
                label: "Selected".to_owned(),
                count: Some(60),
                rate: Some(0.0486),
            },
            Stage {
                key: None,
                label: "Took part".to_owned(),
                count: None,
                rate: Some(0.9),
            },
        ]
    }

    #[test]
    fn every_chart_is_a_standalone_svg_with_a_title_and_a_description() {
        let (categories, series) = shares();
        let charts = [
            grouped_bars("Age", "Shares by age band.", &categories, &series),
            funnel("Recruitment", "From letters to taking part.", &stages()),
            probabilities("Chances", "Selection.", &[0.05, 0.07, 0.1], Some(0.075)),
            grouped_bars("Nothing", "", &[], &[]),
            funnel("Nothing", "", &[]),
            probabilities("Nothing", "", &[], None),
        ];
        for svg in &charts {
            let document = parsed(svg);
            let root = document.root_element();
            assert_eq!(
                root.attribute("viewBox").unwrap(),
                format!(
                    "0 0 {} {}",
                    root.attribute("width").unwrap(),
                    root.attribute("height").unwrap()
                )
            );
            assert!(
                !svg.contains(" id=\""),
                "ids would clash between inlined charts"
            );
        }
        let document = parsed(&charts[0]);
        let title = document.root_element().first_element_child().unwrap();
        assert_eq!(title.text(), Some("Age"));
        // The description carries the values for those who cannot see the bars.
        let desc = title.next_sibling_element().unwrap().text().unwrap();
        assert!(desc.starts_with("Shares by age band. 16–24: Population 14.0%, Panel suppressed"));
    }

    #[test]
    fn all_text_is_escaped_and_control_characters_dropped() {
        assert_eq!(
            escape("a < b & \"c\" > 'd'\u{1}\u{FFFF}\n"),
            "a &lt; b &amp; &quot;c&quot; &gt; &#39;d&#39;\n"
        );
        let series = [Series {
            key: None,
            name: HOSTILE.to_owned(),
            values: vec![Some(0.5), None],
        }];
        let stage = [Stage {
            key: None,
            label: HOSTILE.to_owned(),
            count: Some(3),
            rate: None,
        }];
        for svg in [
            grouped_bars(HOSTILE, HOSTILE, &[HOSTILE, "b"], &series),
            funnel(HOSTILE, HOSTILE, &stage),
            probabilities(HOSTILE, HOSTILE, &[0.5], None),
        ] {
            assert!(!svg.contains("<script"), "{svg}");
            let document = parsed(&svg);
            let title = document.root_element().first_element_child().unwrap();
            let clean = HOSTILE.replace(['\u{0}', '\u{7}'], "");
            assert_eq!(title.text(), Some(clean.as_str()));
        }
    }

    #[test]
    fn numbers_that_are_not_numbers_never_reach_the_drawing() {
        let hostile = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.5,
            7.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            -0.0,
        ];
        let series = [Series {
            key: None,
            name: "s".to_owned(),
            values: hostile.iter().map(|v| Some(*v)).collect(),
        }];
        let labels = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let stages: Vec<Stage> = hostile
            .iter()
            .enumerate()
            .map(|(i, r)| Stage {
                key: None,
                label: labels[i].to_owned(),
                count: Some(if i == 0 { u64::MAX } else { i as u64 }),
                rate: Some(*r),
            })
            .collect();
        for svg in [
            grouped_bars("t", "d", &labels, &series),
            funnel("t", "d", &stages),
            probabilities("t", "d", &hostile, Some(f64::NAN)),
            probabilities("t", "d", &hostile, Some(f64::INFINITY)),
            probabilities("t", "d", &[f64::NAN; 3], Some(-1.0)),
        ] {
            parsed(&svg);
            for bad in ["NaN", "nan", "inf", "-0 ", "-0\"", "-0."] {
                assert!(!svg.contains(bad), "{bad} in {svg}");
            }
        }
        // What is not a number is left out and said to be; the rest is clamped to 0..1.
        let svg = probabilities("t", "d", &hostile, None);
        assert!(
            svg.contains("5 people; lowest chance 0.00%, highest 100.00%."),
            "{svg}"
        );
        assert!(svg.contains("3 values that were not numbers left out."));
    }

    #[test]
    fn axis_steps_are_round_and_reach_the_largest_value() {
        let axis = |max: f64| {
            let axis = Axis::to(max, 0.01);
            (axis.step, axis.steps, axis.decimals)
        };
        assert_eq!(axis(0.45), (0.1, 5, 0));
        assert_eq!(axis(0.4), (0.1, 4, 0));
        assert_eq!(axis(1.0), (0.2, 5, 0));
        assert_eq!(axis(0.075), (0.02, 4, 0));
        assert_eq!(axis(0.0), (0.002, 5, 1));
        assert_eq!(axis(f64::NAN), (0.002, 5, 1));
        assert_eq!(axis(0.14), (0.025, 6, 1));
        let labels: Vec<String> = Axis::to(0.14, 0.01).ticks().map(|t| t.1).collect();
        assert_eq!(
            labels,
            ["0.0%", "2.5%", "5.0%", "7.5%", "10.0%", "12.5%", "15.0%"]
        );
        assert_eq!(px(-0.04), "0");
        assert_eq!(px(f64::INFINITY), "0");
        assert_eq!(px(12.345), "12.3");
        assert_eq!(px(12.0), "12");
        assert_eq!(percent(-1e-9, 2), "0.00%");
        assert_eq!(percent(-0.5, 0), "-50%");
        assert_eq!(percent(f64::NAN, 1), "0.0%");
    }
}
