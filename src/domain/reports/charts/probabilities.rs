//! People's chances of selection, against the lowest and the equal chance.

use super::{Axis, WIDTH, open, percent, px, share, text, thousands};

/// People's chances of selection, sorted from lowest to highest, as a stepped area (one
/// step per person, or per pixel when there are more people than pixels), with a dashed
/// line at the lowest chance and, when given, a solid line at k/n, the chance everyone
/// would have if all were equal. Chances are clamped to 0..1; values that are not numbers
/// are left out, and the description says how many.
pub fn probabilities(
    title: &str,
    description: &str,
    probabilities: &[f64],
    k_over_n: Option<f64>,
) -> String {
    let (left, right, top, bottom) = (64.0, WIDTH - 150.0, 16.0, 256.0);
    let height = bottom + 44.0;
    let mut sorted: Vec<f64> = probabilities.iter().copied().filter_map(share).collect();
    sorted.sort_by(f64::total_cmp);
    let left_out = probabilities.len() - sorted.len();
    let equal = k_over_n.and_then(share);
    let lowest = sorted.first().copied();
    let highest = sorted.last().copied().unwrap_or(0.0);
    let axis = Axis::to(highest.max(equal.unwrap_or(0.0)), 0.01);
    let y_of = |p: f64| bottom - p / axis.end() * (bottom - top);
    let n = sorted.len();
    let mut summary = description.trim().to_owned();
    match lowest {
        Some(low) => summary.push_str(&format!(
            " {} people; lowest chance {}, highest {}.",
            thousands(n as u64),
            percent(low, 2),
            percent(highest, 2)
        )),
        None => summary.push_str(" No probabilities to show."),
    }
    if let Some(equal) = equal {
        summary.push_str(&format!(" Equal chance (k/n): {}.", percent(equal, 2)));
    }
    if left_out > 0 {
        summary.push_str(&format!(
            " {} values that were not numbers left out.",
            thousands(left_out as u64)
        ));
    }
    let mut svg = open(height, title, &summary);
    for (value, label) in axis.ticks() {
        let y = y_of(value);
        svg.push_str(&format!(
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#BBBBBB\" \
             stroke-width=\"0.5\"/>",
            px(left),
            px(right),
            y = px(y)
        ));
        svg.push_str(&text(
            left - 6.0,
            y + 4.0,
            " text-anchor=\"end\"",
            &label,
            10,
        ));
    }
    if n == 0 {
        svg.push_str(&text(
            left + 10.0,
            top + 24.0,
            "",
            "No probabilities to show",
            40,
        ));
    } else {
        // One step per person, or per pixel column when there are more people.
        let columns = ((right - left) as usize).min(n);
        let mut steps: Vec<(String, String)> = Vec::with_capacity(columns);
        for c in 0..columns {
            let last = (c + 1) * n / columns - 1;
            let x = px(left + (last + 1) as f64 / n as f64 * (right - left));
            let y = px(y_of(sorted[last]));
            match steps.last_mut() {
                // A step at the same height only lengthens the one before.
                Some(previous) if previous.0 == y => previous.1 = x,
                _ => steps.push((y, x)),
            }
        }
        let mut path = format!("M{} {}", px(left), px(bottom));
        for (y, x) in &steps {
            path.push_str(&format!("V{y}H{x}"));
        }
        path.push_str(&format!("V{}Z", px(bottom)));
        svg.push_str(&format!(
            "<path d=\"{path}\" fill=\"#6699CC\" stroke=\"#004488\" stroke-width=\"1\"/>"
        ));
    }
    // The reference lines, labelled on the right, the labels kept 14 pixels apart.
    let mut lines: Vec<(f64, String, &str)> = Vec::new();
    if let Some(low) = lowest {
        lines.push((
            y_of(low),
            format!("lowest: {}", percent(low, 2)),
            " stroke-dasharray=\"5 3\"",
        ));
    }
    if let Some(equal) = equal {
        lines.push((
            y_of(equal),
            format!("k/n: {}", percent(equal, 2)),
            " stroke-width=\"2\"",
        ));
    }
    let mut label_at: Vec<f64> = lines.iter().map(|l| l.0 + 4.0).collect();
    if let [a, b] = label_at.as_mut_slice()
        && (*a - *b).abs() < 14.0
    {
        // The lower line on the page (larger y) keeps its label below the other's.
        let middle = (*a + *b) / 2.0;
        let (low, high) = if *a >= *b { (a, b) } else { (b, a) };
        *low = middle + 7.0;
        *high = middle - 7.0;
    }
    for ((y, label, style), at) in lines.iter().zip(&label_at) {
        svg.push_str(&format!(
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#000\"{style}/>",
            px(left),
            px(right),
            y = px(*y)
        ));
        svg.push_str(&text(right + 6.0, *at, "", label, 22));
    }
    svg.push_str(&format!(
        "<line x1=\"{l}\" y1=\"{}\" x2=\"{l}\" y2=\"{b}\" stroke=\"#000\"/>\
         <line x1=\"{l}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\" stroke=\"#000\"/>",
        px(top),
        px(right),
        l = px(left),
        b = px(bottom)
    ));
    svg.push_str(&text(
        (left + right) / 2.0,
        bottom + 30.0,
        " text-anchor=\"middle\"",
        &format!(
            "{} people, from the lowest chance to the highest",
            thousands(n as u64)
        ),
        60,
    ));
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reports::charts::tests::parsed;

    #[test]
    fn the_chances_chart_marks_the_lowest_and_the_equal_chance() {
        // 800 people: most at 7.5 %, a few at 6.17 % and some above.
        let mut chances = vec![0.075; 700];
        chances.extend([0.0617; 40]);
        chances.extend([0.12; 60]);
        let svg = probabilities("Chances", "k = 60 of 800.", &chances, Some(60.0 / 800.0));
        let document = parsed(&svg);
        let labels: Vec<&str> = document
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("x") == Some("496"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(labels, ["lowest: 6.17%", "k/n: 7.50%"]);
        // The axis runs to 12 % over 240 pixels, so the lines are at these heights.
        let lines: Vec<&str> = document
            .descendants()
            .filter(|n| n.has_tag_name("line") && n.attribute("stroke") == Some("#000"))
            .filter_map(|n| n.attribute("y1"))
            .take(2)
            .collect();
        assert_eq!(lines, ["132.6", "106"]);
        assert!(svg.contains("800 people; lowest chance 6.17%, highest 12.00%."));
        // The steps follow the people in order; only three heights.
        let path = document
            .descendants()
            .find(|n| n.has_tag_name("path"))
            .unwrap()
            .attribute("d")
            .unwrap();
        assert!(path.starts_with("M64 256V132.6H"), "{path}");
        assert!(path.ends_with("V16H490V256Z"), "{path}");
    }

    #[test]
    fn many_people_are_drawn_one_step_per_pixel() {
        let chances: Vec<f64> = (0..100_000).map(|i| f64::from(i) / 1e6).collect();
        let svg = probabilities("Chances", "", &chances, None);
        let document = parsed(&svg);
        let path = document
            .descendants()
            .find(|n| n.has_tag_name("path"))
            .unwrap()
            .attribute("d")
            .unwrap();
        assert_eq!(path.matches('H').count(), 426);
        // Equal chances make one step.
        let svg = probabilities("Chances", "", &[0.1; 5_000], None);
        assert!(svg.contains(" d=\"M64 256V16H490V256Z\""), "{svg}");
        assert!(svg.len() < 20_000, "{}", svg.len());
    }
}
