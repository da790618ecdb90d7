//! Funnels: how many reached each stage of recruitment, and at what rate.

use super::{
    FILLS, LABEL_WIDTH, escape, open, percent, px, share, suppressed_mark, text, thousands,
};

/// One stage of a funnel (e.g. letters sent, registered, selected, responded).
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// What the stage counts.
    pub label: String,
    /// How many reached it; `None` when the count is suppressed.
    pub count: Option<u64>,
    /// A rate to write beside it, as a share (0..1) of the stage before or of the first,
    /// as the chart's description says.
    pub rate: Option<f64>,
    /// Where the count sits in its report, when the bar is to be marked.
    pub key: Option<super::FigureKey>,
}

/// A funnel: one centred horizontal bar per stage, its width in proportion to its count
/// (the largest stage fills the width), the label on the left and the count and rate
/// written on the right. A suppressed count gets a "suppressed" mark, not a bar.
pub fn funnel(title: &str, description: &str, stages: &[Stage]) -> String {
    const ROW: f64 = 30.0;
    const BAR: f64 = 20.0;
    let (left, span) = (LABEL_WIDTH, 300.0);
    let centre = left + span / 2.0;
    let top = 12.0;
    let height = top + stages.len().max(1) as f64 * ROW + 12.0;
    let largest = stages.iter().filter_map(|s| s.count).max().unwrap_or(0);
    let mut summary = description.trim().to_owned();
    let mut body = String::new();
    if stages.is_empty() {
        body.push_str(&text(left, top + 18.0, "", "No data to show", 40));
    }
    for (i, stage) in stages.iter().enumerate() {
        let y = top + i as f64 * ROW;
        let middle = y + ROW / 2.0;
        body.push_str(&text(
            left - 8.0,
            middle + 4.0,
            " text-anchor=\"end\"",
            &stage.label,
            23,
        ));
        let rate = stage.rate.and_then(share).map(|r| percent(r, 1));
        let written = match (stage.count, &rate) {
            (Some(count), Some(rate)) => format!("{} ({rate})", thousands(count)),
            (Some(count), None) => thousands(count),
            (None, Some(rate)) => format!("suppressed ({rate})"),
            (None, None) => "suppressed".to_owned(),
        };
        summary.push_str(&format!(" {}: {written}.", stage.label));
        match stage.count {
            Some(count) => {
                let width = if largest > 0 {
                    count as f64 / largest as f64 * span
                } else {
                    0.0
                };
                let marks = stage
                    .key
                    .as_ref()
                    .map(|k| k.attributes(Some(&count.to_string())))
                    .unwrap_or_default();
                body.push_str(&format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" \
                     stroke=\"#000\" stroke-width=\"0.5\"{marks}><title>{}</title></rect>",
                    px(centre - width / 2.0),
                    px(middle - BAR / 2.0),
                    px(width),
                    px(BAR),
                    FILLS[0],
                    escape(&format!("{}: {written}", stage.label))
                ));
                body.push_str(&text(left + span + 10.0, middle + 4.0, "", &written, 30));
            }
            None => {
                body.push_str(&suppressed_mark(centre - 4.0, middle, &stage.label));
                if let Some(rate) = &rate {
                    body.push_str(&text(left + span + 10.0, middle + 4.0, "", rate, 30));
                }
            }
        }
    }
    let mut svg = open(height, title, &summary);
    svg.push_str(&body);
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reports::charts::tests::{parsed, stages, tooltips};

    #[test]
    fn a_funnel_narrows_with_counts_and_rates_written_beside_each_stage() {
        let svg = funnel("Recruitment", "Rates are of the stage before.", &stages());
        let document = parsed(&svg);
        let bars: Vec<f64> = document
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(FILLS[0]))
            .map(|n| n.attribute("width").unwrap().parse().unwrap())
            .collect();
        assert_eq!(bars, [300.0, 12.3, 0.6]);
        let written: Vec<&str> = document
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("x") == Some("480"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(written, ["30,000", "1,234 (4.1%)", "60 (4.9%)", "90.0%"]);
        assert!(tooltips(&document).contains(&"Took part: suppressed".to_owned()));
        assert!(svg.contains("Took part: suppressed (90.0%)."));
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
