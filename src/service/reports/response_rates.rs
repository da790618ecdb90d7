//! Who responds among those invited: response rates by group and the R-indicator.

use super::*;
use crate::db::reports::invitations_by_cell;

/// Response propensities over cells of `dimensions` (one grouped query), the R-indicator,
/// and the partial indicators written into the matching splits. For SCRUTINY, a partial
/// is shown only where its category's invited and completed counts are, and R only when
/// both respondents and non-respondents are at least the threshold (they are shown then).
pub(super) async fn propensity(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    day: NaiveDate,
    dimensions: &[ReportDimension],
    splits: &mut [Split],
    protected: bool,
    scheme: Option<&AgeScheme>,
) -> AppResult<Propensity> {
    let rows = invitations_by_cell(db, id, day, dimensions).await?;
    // Categories per dimension, in the split's row order.
    let labels: Vec<Vec<String>> = dimensions
        .iter()
        .map(|d| {
            splits
                .iter()
                .find(|s| s.name == d.as_str())
                .map(|s| s.rows.iter().map(|r| r.label.clone()).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut cells = Vec::new();
    for row in &rows {
        let mut categories = Vec::new();
        for (k, (dimension, raw)) in dimensions.iter().zip(&row.categories).enumerate() {
            let label = dimension.label_in(raw.as_deref(), scheme);
            categories.push(labels[k].iter().position(|l| *l == label).unwrap_or(0));
        }
        cells.push(Cell {
            categories,
            invited: row.invited,
            responded: row.completed,
        });
    }
    let sizes: Vec<usize> = labels.iter().map(|l| l.len().max(1)).collect();
    let dims: Vec<ReportDimension> = dimensions.to_vec();
    let Some(r) = statistics::r_indicator(&cells, &sizes) else {
        return Ok(Propensity {
            dimensions: dims,
            r: None,
            s: None,
            mean: None,
            note: Some("Nobody was invited.".to_owned()),
        });
    };
    // For SCRUTINY: R is one more equation in the cells' counts, so it is shown only when
    // every group of every propensity dimension has its invited and completed counts
    // shown (and it says nothing when everyone or no one responded).
    let all_shown = dimensions.iter().all(|d| {
        splits
            .iter()
            .find(|s| s.name == d.as_str())
            .is_some_and(|s| {
                s.rows
                    .iter()
                    .all(|r| r.counts[INVITED].is_some() && r.counts[COMPLETED].is_some())
            })
    });
    for (dimension, partial) in dimensions.iter().zip(&r.partials) {
        let Some(split) = splits.iter_mut().find(|s| s.name == dimension.as_str()) else {
            continue;
        };
        split.partial =
            (!protected || all_shown).then_some((partial.unconditional, partial.conditional));
        // Conditional partials come from unpublished cross-classified cells: for SCRUTINY,
        // like R, only with every count shown.
        for (row, &(u, c)) in split.rows.iter_mut().zip(&partial.categories) {
            row.partial = (!protected || all_shown).then_some((u, c));
        }
    }
    let invited: u64 = cells.iter().map(|c| c.invited).sum();
    let responded: u64 = cells.iter().map(|c| c.responded).sum();
    let visible = !protected || all_shown && responded > 0 && responded < invited;
    Ok(Propensity {
        dimensions: dims,
        r: visible.then_some(r.r),
        s: visible.then_some(r.s),
        mean: visible.then_some(r.mean),
        note: (!visible).then(|| {
            "Not shown: the number of respondents or non-respondents is too small to publish."
                .to_owned()
        }),
    })
}
