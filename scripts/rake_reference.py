#!/usr/bin/env python3
"""Reference raking for `cargo bench --bench reports`: plain iterative proportional
fitting in numpy, with the same convergence rule as `domain::statistics::rake`, timed
here so that the benchmark can set our time beside it.

The benchmark writes the respondents and the margins to a temporary folder and runs

    python3 scripts/rake_reference.py RESPONDENTS.csv MARGINS.csv WEIGHTS.csv \
        TOLERANCE MAX_ITERATIONS RUNS

RESPONDENTS.csv has a header and one row per respondent: the starting (design) weight,
then the respondent's category (an index) on each margin, in the margins' order.
MARGINS.csv has a header and rows of `margin,category,total`, margins in order. The
raked weights are written to WEIGHTS.csv, one a line, to 17 significant digits (enough
to read back the same double). The last line printed is JSON: the best and median time
of RUNS rakings in milliseconds (reading and writing the files are not timed), the
sweeps made, whether it converged and the largest relative error of a margin.

The rule, as in the Rust code: before each sweep, the error is the largest over every
margin's categories of |weighted sum - total| / total (|weighted sum| where the total
is 0); sweeps continue while it is above TOLERANCE and fewer than MAX_ITERATIONS have
been made. A sweep scales each margin in turn, a category whose weighted sum is 0 left
as it is. Trimming is not used by the benchmark and not implemented here.

numpy is the only dependency. Where python3 has none, a virtual environment does:

    python3 -m venv /tmp/rake-venv
    /tmp/rake-venv/bin/pip install numpy
    BENCH_PYTHON=/tmp/rake-venv/bin/python cargo bench --bench reports
"""

import csv
import json
import statistics
import sys
import time

import numpy as np


def read_respondents(path):
    """The starting weights and a column of category indices per margin."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    weights = np.array([float(row[0]) for row in rows], dtype=np.float64)
    columns = len(rows[0]) - 1 if rows else 0
    categories = [
        np.array([int(row[1 + m]) for row in rows], dtype=np.intp) for m in range(columns)
    ]
    return weights, categories


def read_margins(path):
    """Each margin's totals, in the file's order of margins and categories."""
    totals = {}
    order = []
    with open(path, newline="") as handle:
        for row in list(csv.reader(handle))[1:]:
            name, category, total = row[0], int(row[1]), float(row[2])
            if name not in totals:
                totals[name] = {}
                order.append(name)
            totals[name][category] = total
    margins = []
    for name in order:
        size = max(totals[name]) + 1
        margin = np.zeros(size, dtype=np.float64)
        for category, total in totals[name].items():
            margin[category] = total
        margins.append(margin)
    return margins


def margin_error(weights, categories, margins):
    """The largest relative difference between a weighted margin and its total."""
    worst = 0.0
    for category_of, totals in zip(categories, margins):
        sums = np.bincount(category_of, weights=weights, minlength=len(totals))
        positive = totals > 0
        errors = np.where(
            positive, np.abs(sums - totals) / np.where(positive, totals, 1.0), np.abs(sums)
        )
        worst = max(worst, float(errors.max(initial=0.0)))
    return worst


def rake(start, categories, margins, tolerance, max_iterations):
    """Iterative proportional fitting from the starting weights."""
    weights = start.copy()
    iterations = 0
    error = margin_error(weights, categories, margins)
    while error > tolerance and iterations < max_iterations:
        iterations += 1
        for category_of, totals in zip(categories, margins):
            sums = np.bincount(category_of, weights=weights, minlength=len(totals))
            factors = np.where(sums > 0, totals / np.where(sums > 0, sums, 1.0), 1.0)
            weights *= factors[category_of]
        error = margin_error(weights, categories, margins)
    return weights, iterations, error


def main():
    respondents, margins_path, output = sys.argv[1:4]
    tolerance, max_iterations, runs = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    start, categories = read_respondents(respondents)
    margins = read_margins(margins_path)
    times = []
    result = None
    for _ in range(max(runs, 1)):
        began = time.perf_counter()
        result = rake(start, categories, margins, tolerance, max_iterations)
        times.append((time.perf_counter() - began) * 1000.0)
    weights, iterations, error = result
    with open(output, "w") as handle:
        handle.write("".join(f"{w:.17g}\n" for w in weights))
    print(
        json.dumps(
            {
                "best_ms": min(times),
                "median_ms": statistics.median(times),
                "iterations": iterations,
                "converged": error <= tolerance,
                "max_error": error,
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
