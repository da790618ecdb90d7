//! Panel selection benchmarks (run with `cargo bench --bench selection`): maximin and
//! leximin on the paper's two instances and on synthetic council pools
//! (`domain::selection::synthetic_pool`: six features, skewed self-selection, quotas at the population
//! share ± 10 %), with the greedy legacy method's estimated minimum beside them. Results
//! are printed as a table; BENCHMARKS.md records them. `BENCH_SELECTION=800` runs only
//! the instances whose name contains `800`.

use std::time::{Duration, Instant};

use civic_panel::domain::selection::synthetic_pool;
use civic_panel::domain::selection::{self, Distribution, Instance, SelectionError};

const LIMIT: Duration = Duration::from_secs(300);

fn instance(quotas: &str, people: &str, k: u32) -> anyhow::Result<Instance> {
    let features = selection::read_quotas(quotas.as_bytes())?;
    Ok(selection::read_people(people.as_bytes(), features, k)?)
}

fn fixture(name: &str, file: &str) -> anyhow::Result<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/selection")
        .join(name)
        .join(file);
    Ok(std::fs::read_to_string(path)?)
}

/// A method's time, lowest probability and panels used, as table cells.
fn timed(
    method: fn(&Instance, Duration) -> Result<Distribution, SelectionError>,
    instance: &Instance,
) -> (String, String, String) {
    let started = Instant::now();
    let fair = method(instance, LIMIT);
    let took = format!("{:.2}", started.elapsed().as_secs_f64());
    match fair {
        Ok(fair) => (
            took,
            format!("{:.4}", fair.minimum()),
            fair.panels.len().to_string(),
        ),
        Err(err) => (took, err.to_string(), "-".to_owned()),
    }
}

fn main() -> anyhow::Result<()> {
    let mut cases: Vec<(String, Instance)> = Vec::new();
    for (name, k) in [("example_small_20", 20), ("example_large_200", 200)] {
        let quotas = fixture(name, "categories.csv")?;
        let people = fixture(name, "respondents.csv")?;
        cases.push((name.to_owned(), instance(&quotas, &people, k)?));
    }
    let only = std::env::var("BENCH_SELECTION").ok();
    for (size, k) in [(800, 60), (2_500, 250)] {
        let (people, quotas) = synthetic_pool::pool(size, k, 0.1, 2026);
        cases.push((
            format!("synthetic pool {size}, k = {k}"),
            instance(&quotas, &people, k)?,
        ));
    }
    println!(
        "| instance | people | types | maximin s | maximin min | panels | leximin s | \
         leximin min | panels | greedy min (1,000 runs) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, instance) in &cases {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let (max_s, max_min, max_panels) = timed(selection::maximin, instance);
        let (lex_s, lex_min, lex_panels) = timed(selection::leximin, instance);
        let greedy = selection::estimate_greedy(instance, 1_000, 1)
            .map(|p| format!("{:.4}", p.iter().copied().fold(f64::INFINITY, f64::min)))
            .unwrap_or_else(|e| e.to_string());
        println!(
            "| {name} | {} | {} | {max_s} | {max_min} | {max_panels} | {lex_s} | {lex_min} | \
             {lex_panels} | {greedy} |",
            instance.pool_size(),
            instance.types.len()
        );
    }
    Ok(())
}
