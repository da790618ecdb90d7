//! Report benchmarks (run with `cargo bench --bench reports`): raking 100,000 synthetic
//! respondents to four population margins (age band 8 categories, sex 2, ethnic group 8,
//! ward 20), with response skewed the way it usually is (older, white British residents
//! and some wards answer more often) and design
//! weights of 2/3 in the five wards whose addresses were drawn at 1.5 times the rate.
//! Urban wards' respondents are younger and more often from an ethnic minority, and more
//! older respondents are women, so the margins pull against each other.
//!
//! Beside our `statistics::rake` the same run times a reference: plain iterative
//! proportional fitting in numpy (`scripts/rake_reference.py`), given the same respondents
//! and margins through CSV files in a temporary folder. The bench checks that both give
//! the same weights to 1e-9 (relative) and fails otherwise, and prints both times and
//! their ratio. A second case gives every respondent a different design weight, so that
//! no two respondents can be raked together.
//!
//! `BENCH_PYTHON` names the interpreter (default `python3`); without numpy the reference
//! is skipped with a message (the script's header says how to install it).
//! `BENCH_RUNS` sets how many times each is timed (default 9). Results are printed as a
//! table; BENCHMARKS.md records them.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use civic_panel::domain::reports::statistics::{self, Margin, RakeOptions, Raked};

const RESPONDENTS: usize = 100_000;
const POPULATION: u64 = 150_000;
const SEED: u64 = 2026;
const TARGET_MS: f64 = 100.0;
const AGREEMENT: f64 = 1e-9;

/// A dimension's name and, per category, its population share and how much more (or
/// less) likely than average someone in it is to respond. Invented round figures.
type Dimension = (&'static str, Vec<(f64, f64)>);

fn dimensions() -> Vec<Dimension> {
    let age = vec![
        (0.13, 0.35),
        (0.16, 0.5),
        (0.15, 0.7),
        (0.16, 0.9),
        (0.15, 1.2),
        (0.12, 1.6),
        (0.09, 1.8),
        (0.04, 1.3),
    ];
    let sex = vec![(0.51, 1.15), (0.49, 0.85)];
    let ethnic = vec![
        (0.74, 1.2),
        (0.06, 0.8),
        (0.05, 0.6),
        (0.04, 0.45),
        (0.03, 0.6),
        (0.04, 0.4),
        (0.02, 0.7),
        (0.02, 0.5),
    ];
    // Wards of unequal size and response, from 3.3 % to 6.5 % of the population.
    let ward = (0..20)
        .map(|w| {
            let size = 2.0 + f64::from((w * 7) % 11) / 5.0;
            let response = 0.5 + f64::from((w * 13) % 20) / 16.0;
            (size, response)
        })
        .collect::<Vec<_>>();
    let ward_total: f64 = ward.iter().map(|(s, _)| s).sum();
    let ward = ward.into_iter().map(|(s, r)| (s / ward_total, r)).collect();
    vec![
        ("age_band", age),
        ("sex", sex),
        ("ethnic_group", ethnic),
        ("ward", ward),
    ]
}

/// The five wards drawn at 1.5 times the rate: their respondents' design weight is 2/3.
fn oversampled(ward: usize) -> bool {
    ward < 5
}

/// Draws a category with chance proportional to `weights`.
fn draw(rng: &mut ChaCha20Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut point = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if point < *w {
            return i;
        }
        point -= w;
    }
    weights.len() - 1
}

/// The respondents' starting weights and their categories on each dimension.
fn respondents(dimensions: &[Dimension]) -> (Vec<f64>, Vec<Vec<usize>>) {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let tilt = |dimension: &Dimension| -> Vec<f64> {
        dimension
            .1
            .iter()
            .map(|(share, skew)| share * skew)
            .collect()
    };
    let (age, sex, ethnic, ward) = (
        tilt(&dimensions[0]),
        tilt(&dimensions[1]),
        tilt(&dimensions[2]),
        tilt(&dimensions[3]),
    );
    let mut categories: Vec<Vec<usize>> = (0..4).map(|_| Vec::with_capacity(RESPONDENTS)).collect();
    let mut weights = Vec::with_capacity(RESPONDENTS);
    for _ in 0..RESPONDENTS {
        let w = draw(&mut rng, &ward);
        // Wards run from rural to urban: urban wards' respondents are younger and more
        // often from an ethnic minority, and among older respondents more are women, so
        // the margins pull against each other and raking takes several sweeps.
        let urban = ((w * 7) % 20) as f64 / 19.0;
        let age_here: Vec<f64> = age
            .iter()
            .enumerate()
            .map(|(a, p)| p * (1.0 + 1.6 * (0.5 - urban) * (a as f64 / 7.0 - 0.5)))
            .collect();
        let a = draw(&mut rng, &age_here);
        let older = a as f64 / 7.0 - 0.5;
        let sex_here = [sex[0] * (1.0 + 0.6 * older), sex[1] * (1.0 - 0.6 * older)];
        let ethnic_here: Vec<f64> = ethnic
            .iter()
            .enumerate()
            .map(|(e, p)| if e == 0 { *p } else { p * (0.2 + 3.0 * urban) })
            .collect();
        categories[0].push(a);
        categories[1].push(draw(&mut rng, &sex_here));
        categories[2].push(draw(&mut rng, &ethnic_here));
        categories[3].push(w);
        weights.push(if oversampled(w) { 2.0 / 3.0 } else { 1.0 });
    }
    (weights, categories)
}

/// Whole-number population totals of each category that add up to `POPULATION` exactly
/// (largest remainders), so that every margin describes the same population.
fn totals(shares: &[(f64, f64)]) -> Vec<f64> {
    let sum: f64 = shares.iter().map(|(s, _)| s).sum();
    let exact: Vec<f64> = shares
        .iter()
        .map(|(s, _)| s / sum * POPULATION as f64)
        .collect();
    let mut whole: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let short = POPULATION - whole.iter().sum::<u64>();
    for &i in order.iter().take(short as usize) {
        whole[i] += 1;
    }
    whole.into_iter().map(|x| x as f64).collect()
}

/// Best and median of `times`, in milliseconds.
fn best_and_median(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

/// What the reference reported.
struct Reference {
    weights: Vec<f64>,
    best_ms: f64,
    median_ms: f64,
    iterations: u64,
    converged: bool,
    max_error: f64,
    numpy: String,
}

/// Runs `scripts/rake_reference.py` on the same respondents and margins; `Err` with the
/// reason when it cannot run.
fn reference(
    folder: &Path,
    weights: &[f64],
    margins: &[Margin],
    options: RakeOptions,
    runs: usize,
) -> anyhow::Result<Reference> {
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let check = Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .map_err(|e| anyhow::anyhow!("{python} cannot be run ({e})"))?;
    if !check.status.success() {
        anyhow::bail!(
            "{python} has no numpy (see the header of scripts/rake_reference.py, then set \
             BENCH_PYTHON)"
        );
    }
    let mut people = String::from("weight");
    for margin in margins {
        write!(people, ",{}", margin.name)?;
    }
    people.push('\n');
    for (i, w) in weights.iter().enumerate() {
        // Rust prints the shortest text that reads back as the same double.
        write!(people, "{w}")?;
        for margin in margins {
            write!(people, ",{}", margin.category_of[i])?;
        }
        people.push('\n');
    }
    let mut totals = String::from("margin,category,total\n");
    for margin in margins {
        for (c, t) in margin.totals.iter().enumerate() {
            writeln!(totals, "{},{c},{t}", margin.name)?;
        }
    }
    let (people_path, totals_path, out_path) = (
        folder.join("respondents.csv"),
        folder.join("margins.csv"),
        folder.join("weights.csv"),
    );
    std::fs::write(&people_path, people)?;
    std::fs::write(&totals_path, totals)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rake_reference.py");
    let output = Command::new(&python)
        .arg(script)
        .arg(&people_path)
        .arg(&totals_path)
        .arg(&out_path)
        .arg(options.tolerance.to_string())
        .arg(options.max_iterations.to_string())
        .arg(runs.to_string())
        .output()?;
    if !output.status.success() {
        anyhow::bail!(
            "the reference failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8(output.stdout)?;
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default())?;
    let number = |key: &str| {
        summary[key]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("the reference did not report {key}"))
    };
    let weights = std::fs::read_to_string(&out_path)?
        .lines()
        .map(str::parse::<f64>)
        .collect::<Result<Vec<f64>, _>>()?;
    Ok(Reference {
        weights,
        best_ms: number("best_ms")?,
        median_ms: number("median_ms")?,
        iterations: summary["iterations"].as_u64().unwrap_or_default(),
        converged: summary["converged"].as_bool().unwrap_or_default(),
        max_error: number("max_error")?,
        numpy: summary["numpy"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Times `rake` `runs` times and returns the last result with the best and median times.
fn timed(
    weights: &[f64],
    margins: &[Margin],
    options: RakeOptions,
    runs: usize,
) -> anyhow::Result<(Raked, f64, f64)> {
    let mut times = Vec::with_capacity(runs);
    let mut raked = None;
    for _ in 0..runs {
        let started = Instant::now();
        let result = statistics::rake(weights, margins, options)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        raked = Some(result);
    }
    let raked = raked.ok_or_else(|| anyhow::anyhow!("no run"))?;
    let (best, median) = best_and_median(times);
    Ok((raked, best, median))
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9)
        .max(1);
    let dimensions = dimensions();
    let (design, categories) = respondents(&dimensions);
    let margins: Vec<Margin> = dimensions
        .iter()
        .zip(categories)
        .map(|((name, shares), category_of)| Margin {
            name: (*name).to_owned(),
            category_of,
            totals: totals(shares),
        })
        .collect();
    // Every respondent a different design weight: from 0.5 to 1.5, none repeated.
    let distinct: Vec<f64> = (0..RESPONDENTS)
        .map(|i| 0.5 + (i as f64 * 0.618_033_988_749_895) % 1.0)
        .collect();
    let options = RakeOptions::default();
    let folder = tempfile::tempdir()?;
    println!(
        "{RESPONDENTS} respondents, margins {}, tolerance {:e}, at most {} sweeps, {runs} runs \
         each (best / median ms); target {TARGET_MS} ms",
        margins
            .iter()
            .map(|m| format!("{} ({})", m.name, m.totals.len()))
            .collect::<Vec<_>>()
            .join(", "),
        options.tolerance,
        options.max_iterations,
    );
    println!(
        "| case | ours best | ours median | sweeps | converged | max error | Kish n_eff | \
         numpy best | numpy median | sweeps | ours ÷ numpy (median) | max abs diff | max rel diff |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut disagreements = Vec::new();
    let mut numpy = None;
    for (case, start) in [
        ("design weights 1 and 2/3", &design),
        ("every design weight different", &distinct),
    ] {
        let (raked, best, median) = timed(start, &margins, options, runs)?;
        let mut row = format!(
            "| {case} | {best:.2} | {median:.2} | {} | {} | {:.1e} | {:.0} |",
            raked.iterations,
            raked.converged,
            raked.max_error,
            statistics::effective_sample_size(&raked.weights),
        );
        match reference(folder.path(), start, &margins, options, runs) {
            Ok(reference) => {
                let (mut absolute, mut relative) = (0.0f64, 0.0f64);
                for (a, b) in raked.weights.iter().zip(&reference.weights) {
                    absolute = absolute.max((a - b).abs());
                    relative = relative.max((a - b).abs() / b.abs().max(f64::MIN_POSITIVE));
                }
                if reference.weights.len() != raked.weights.len() || relative > AGREEMENT {
                    disagreements.push(format!(
                        "{case}: {} weights against {}, largest relative difference {relative:e}",
                        raked.weights.len(),
                        reference.weights.len()
                    ));
                }
                write!(
                    row,
                    " {:.2} | {:.2} | {}{} | {:.2} | {absolute:.1e} | {relative:.1e} |",
                    reference.best_ms,
                    reference.median_ms,
                    reference.iterations,
                    if reference.converged {
                        String::new()
                    } else {
                        format!(" (not converged, {:.1e})", reference.max_error)
                    },
                    median / reference.median_ms,
                )?;
                numpy = Some(reference.numpy);
            }
            Err(err) => {
                write!(row, " — | — | — | — | — | — |")?;
                println!("reference skipped: {err}");
            }
        }
        println!("{row}");
    }
    if let Some(version) = numpy {
        println!("reference: numpy {version}");
    }
    if !disagreements.is_empty() {
        anyhow::bail!("the weights disagree with the reference: {disagreements:?}");
    }
    Ok(())
}
