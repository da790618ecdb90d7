//! Grouped bar charts of shares: population, panel and respondents by category.

use super::{
    Axis, CHAR_WIDTH, FILLS, LABEL_WIDTH, WIDTH, escape, open, percent, px, share, suppressed_mark,
    text, truncate,
};

/// One series of a grouped bar chart: its name, for the legend, and its share (0..1) of
/// each category in the categories' order; `None` where the value is suppressed.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The series' name (e.g. "Population", "Panel", "Respondents").
    pub name: String,
    /// One share per category; `None` for a suppressed value.
    pub values: Vec<Option<f64>>,
    /// The table and measure of its values in their report, each category being a group
    /// (see [`super::FigureKey`]), when the bars are to be marked.
    pub key: Option<(String, String)>,
}

/// What one bar shows.
enum Bar {
    /// A share, clamped to 0..1.
    Share(f64),
    /// Withheld for disclosure control.
    Suppressed,
    /// Not given, or not a number.
    Missing,
}

impl Series {
    /// The bar of category `c`.
    fn bar(&self, c: usize) -> Bar {
        match self.values.get(c) {
            Some(Some(v)) => share(*v).map_or(Bar::Missing, Bar::Share),
            Some(None) => Bar::Suppressed,
            None => Bar::Missing,
        }
    }
}

/// A horizontal grouped bar chart of shares: one group of bars per category (labels on
/// the left, cut with an ellipsis past 23 characters), one bar per series in the legend's
/// order, the share written at the end of each bar, and an axis of percentages. A
/// suppressed value gets a "suppressed" mark and a missing or non-numeric one the words
/// "no data", never a bar of zero.
pub fn grouped_bars(
    title: &str,
    description: &str,
    categories: &[&str],
    series: &[Series],
) -> String {
    const BAR: f64 = 13.0;
    const GROUP_GAP: f64 = 10.0;
    let left = LABEL_WIDTH;
    let right = WIDTH - 60.0;
    // The legend, in rows across the top.
    let mut legend = String::new();
    let (mut x, mut y) = (left, 10.0);
    for (s, one) in series.iter().enumerate() {
        let (name, _) = truncate(&one.name, 30);
        let width = 16.0 + name.chars().count() as f64 * CHAR_WIDTH + 18.0;
        if x + width > WIDTH - 10.0 && x > left {
            x = left;
            y += 18.0;
        }
        legend.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\" stroke=\"#000\" \
             stroke-width=\"0.5\"/>",
            px(x),
            px(y),
            FILLS[s % FILLS.len()]
        ));
        legend.push_str(&text(x + 16.0, y + 10.5, "", &one.name, 30));
        x += width;
    }
    let top = y + 28.0;
    let group = series.len().max(1) as f64 * (BAR + 1.0) - 1.0;
    let bottom = top + categories.len() as f64 * (group + GROUP_GAP) + GROUP_GAP;
    let height = bottom + 30.0;
    let largest = series
        .iter()
        .flat_map(|s| (0..categories.len()).map(|c| s.bar(c)))
        .filter_map(|b| match b {
            Bar::Share(v) => Some(v),
            _ => None,
        })
        .fold(0.0, f64::max);
    let axis = Axis::to(largest, 0.01);
    let scale = (right - left) / axis.end();
    let mut svg = open(
        height,
        title,
        &bars_summary(description, categories, series),
    );
    svg.push_str(&legend);
    // Grid lines and tick labels.
    for (value, label) in axis.ticks() {
        let x = left + value * scale;
        svg.push_str(&format!(
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#BBBBBB\" \
             stroke-width=\"0.5\"/>",
            px(top),
            px(bottom),
            x = px(x)
        ));
        svg.push_str(&text(
            x,
            bottom + 16.0,
            " text-anchor=\"middle\"",
            &label,
            10,
        ));
    }
    if categories.is_empty() || series.is_empty() {
        svg.push_str(&text(left + 8.0, top + 18.0, "", "No data to show", 40));
    }
    for (c, category) in categories.iter().enumerate() {
        let group_top = top + GROUP_GAP + c as f64 * (group + GROUP_GAP);
        svg.push_str(&text(
            left - 8.0,
            group_top + group / 2.0 + 4.0,
            " text-anchor=\"end\"",
            category,
            23,
        ));
        for (s, one) in series.iter().enumerate() {
            let y = group_top + s as f64 * (BAR + 1.0);
            let what = format!("{category}, {}", one.name);
            let key = one.key.as_ref().map(|(table, measure)| {
                super::FigureKey::new(table.as_str(), *category, measure.as_str())
            });
            match one.bar(c) {
                Bar::Share(v) => {
                    let width = v * scale;
                    let exact = one
                        .values
                        .get(c)
                        .copied()
                        .flatten()
                        .map(super::figure_value);
                    let marks = key
                        .map(|k| k.attributes(exact.as_deref()))
                        .unwrap_or_default();
                    svg.push_str(&format!(
                        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" \
                         stroke=\"#000\" stroke-width=\"0.5\"{marks}><title>{}</title></rect>",
                        px(left),
                        px(y),
                        px(width),
                        px(BAR),
                        FILLS[s % FILLS.len()],
                        escape(&format!("{what}: {}", percent(v, 1)))
                    ));
                    svg.push_str(&text(
                        left + width + 4.0,
                        y + BAR - 3.0,
                        " font-size=\"11\"",
                        &percent(v, 1),
                        10,
                    ));
                }
                Bar::Suppressed => svg.push_str(&suppressed_mark(left + 2.0, y + BAR / 2.0, &what)),
                Bar::Missing => svg.push_str(&text(
                    left + 4.0,
                    y + BAR - 3.0,
                    " font-size=\"11\" font-style=\"italic\"",
                    "no data",
                    10,
                )),
            }
        }
    }
    svg.push_str(&format!(
        "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#000\"/></svg>",
        px(top),
        px(bottom),
        x = px(left)
    ));
    svg
}

/// The description, then every value in words for those who cannot see the bars.
fn bars_summary(description: &str, categories: &[&str], series: &[Series]) -> String {
    let mut summary = description.trim().to_owned();
    for (c, category) in categories.iter().enumerate() {
        let values: Vec<String> = series
            .iter()
            .map(|s| {
                let value = match s.bar(c) {
                    Bar::Share(v) => percent(v, 1),
                    Bar::Suppressed => "suppressed".to_owned(),
                    Bar::Missing => "no data".to_owned(),
                };
                format!("{} {value}", s.name)
            })
            .collect();
        summary.push_str(&format!(" {category}: {}.", values.join(", ")));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reports::charts::tests::{parsed, shares, tooltips};

    #[test]
    fn a_suppressed_share_is_marked_not_drawn_as_a_bar_of_zero() {
        let (categories, series) = shares();
        let svg = grouped_bars("Age", "", &categories, &series);
        let document = parsed(&svg);
        let bars: Vec<String> = document
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| n.first_element_child())
            .map(|t| t.text().unwrap_or_default().to_owned())
            .collect();
        // Eleven bars: twelve values less the suppressed one; a true zero is a bar.
        assert_eq!(bars.len(), 11, "{bars:?}");
        assert!(bars.contains(&"16–24, Respondents: 0.0%".to_owned()));
        assert!(!bars.iter().any(|b| b.starts_with("16–24, Panel")));
        assert!(tooltips(&document).contains(&"16–24, Panel: suppressed".to_owned()));
        let words: Vec<&str> = document
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(words.iter().filter(|w| **w == "suppressed").count(), 1);
        // A value left out of the series altogether is "no data", not suppressed.
        let short = [Series {
            key: None,
            name: "Panel".to_owned(),
            values: vec![Some(0.2)],
        }];
        let svg = grouped_bars("Age", "", &categories[..2], &short);
        assert!(svg.contains(">no data</text>") && !svg.contains(">suppressed</text>"));
    }

    #[test]
    fn bars_are_in_proportion_on_a_percentage_axis_with_the_legend_in_series_order() {
        let (categories, series) = shares();
        let svg = grouped_bars("Age", "", &categories, &series);
        let document = parsed(&svg);
        let width_of = |tooltip: &str| -> f64 {
            document
                .descendants()
                .find(|n| {
                    n.has_tag_name("rect")
                        && n.first_element_child().and_then(|t| t.text()) == Some(tooltip)
                })
                .and_then(|n| n.attribute("width"))
                .unwrap()
                .parse()
                .unwrap()
        };
        // The axis runs to 40 %, the largest share, over 410 pixels.
        let ticks: Vec<&str> = document
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("text-anchor") == Some("middle"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(ticks, ["0%", "10%", "20%", "30%", "40%"]);
        assert_eq!(width_of("45–64, Respondents: 40.0%"), 410.0);
        assert_eq!(width_of("25–44, Panel: 30.0%"), 307.5);
        let legend: Vec<&str> = document
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .take(3)
            .collect();
        assert_eq!(legend, ["Population", "Panel", "Respondents"]);
        assert!(svg.contains("fill=\"#004488\"") && svg.contains("fill=\"#DDAA33\""));
        assert_eq!(svg, grouped_bars("Age", "", &categories, &series));
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis_and_kept_whole_in_a_tooltip() {
        let long = "Black, Black British, Black Welsh, Caribbean or African";
        let series = [Series {
            key: None,
            name: "Panel".to_owned(),
            values: vec![Some(0.04)],
        }];
        let svg = grouped_bars("Ethnic group", "", &[long], &series);
        let document = parsed(&svg);
        let label = document
            .descendants()
            .find(|n| n.has_tag_name("text") && n.attribute("text-anchor") == Some("end"))
            .unwrap();
        assert_eq!(label.first_element_child().unwrap().text(), Some(long));
        assert_eq!(
            label.last_child().unwrap().text(),
            Some("Black, Black British,…")
        );
        assert_eq!(truncate("short", 23), ("short".to_owned(), false));
        assert_eq!(truncate("ééééé", 3), ("éé…".to_owned(), true));
    }
}
