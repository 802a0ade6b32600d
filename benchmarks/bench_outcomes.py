"""Pass rates and margins of the two outcome ("train") checks over many grading runs.

    OMP_NUM_THREADS=1 python benchmarks/bench_outcomes.py [--runs 20] [--only digits|moons]

Each grading run redraws its data from a secret salt (`grader/checks/ch5_cnn.py`,
`grader/checks/ch10_generative.py`); here salts 0..runs-1 stand for runs. For each run
and each solution (the reference, the correct variants of `tests/mutants`, and the cheats
the redrawing must defeat) it prints the figure the check scores, and then per solution:
how many runs gave full marks, the worst and the median figure, and the margin (the worst
run's distance from the full-marks line; positive is inside it).

- digits: held-out accuracy; full marks at `FULL_MARKS_ACCURACY`, none at `NO_MARKS_ACCURACY`.
- moons: energy distance to the held-out points over the fitted Gaussian's; full marks at
  `FULL_MARKS_RATIO` or below, and a novelty (nearest-training-point distance over the
  held-out points') of at least `NOVELTY_MIN`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.checks import ch5_cnn, ch10_generative  # noqa: E402
from solutions.ch5_cnn import digits_train_predict  # noqa: E402
from solutions.ch10_generative import diffusion_train_sample  # noqa: E402
from tests.mutants import ch5_mutants, ch10_mutants  # noqa: E402

DIGITS = {
    "reference CNN": digits_train_predict,
    "variant: MLP": ch5_mutants.digits_train_predict__mlp,
    "cheat: public lookup": ch5_mutants.digits_train_predict__looks_up_public_digits,
}
MOONS = {
    "reference DDPM": diffusion_train_sample,
    "variant: DDIM sampler": ch10_mutants.diffusion_train_sample__ddim_sampler,
    "cheat: make_moons": ch10_mutants.diffusion_train_sample__public_make_moons,
    "cheat: training points": ch10_mutants.diffusion_train_sample__returns_the_training_points,
}


def digits_figure(solve, salt: int) -> tuple[float, bool]:
    X_train, y_train, X_test, y_test = ch5_cnn.digits_data(salt)
    accuracy = float((solve(X_train, y_train, X_test, 0) == y_test).double().mean())
    return accuracy, accuracy >= ch5_cnn.FULL_MARKS_ACCURACY


def moons_figure(solve, salt: int) -> tuple[float, bool]:
    c = ch10_generative
    train, held_out = c.moons_data(salt)
    samples = solve(train.to(torch.float32), c.NUM_SAMPLES, 0).double()
    nearest = lambda a: torch.cdist(a, train).min(dim=1).values.median()  # noqa: E731
    novelty = float(nearest(samples) / nearest(held_out))
    ratio = c._energy_distance(samples, held_out) / c._energy_distance(c._fitted_gaussian(train, c.NUM_SAMPLES), held_out)
    return ratio, ratio <= c.FULL_MARKS_RATIO and novelty >= c.NOVELTY_MIN


def bench(name: str, solutions: dict, figure, runs: int, line: float, higher_is_better: bool) -> None:
    print(f"\n{name}: full marks {'at or above' if higher_is_better else 'at or below'} {line}")
    for label, solve in solutions.items():
        figures, passes, seconds = [], 0, 0.0
        for salt in range(runs):
            start = time.perf_counter()
            value, passed = figure(solve, salt)
            seconds += time.perf_counter() - start
            figures.append(value)
            passes += passed
        worst = min(figures) if higher_is_better else max(figures)
        margin = worst - line if higher_is_better else line - worst
        print(
            f"  {label:24s} full marks {passes:2d}/{runs}  worst {worst:.4f}  median {statistics.median(figures):.4f}  "
            f"best {max(figures) if higher_is_better else min(figures):.4f}  margin {margin:+.4f}  ({seconds / runs:.1f} s a run)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", choices=["digits", "moons"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.only in (None, "digits"):
        bench("ch5.digits_train_predict (held-out accuracy)", DIGITS, digits_figure, args.runs, ch5_cnn.FULL_MARKS_ACCURACY, True)
    if args.only in (None, "moons"):
        bench("ch10.diffusion_train_sample (energy distance / fitted Gaussian's)", MOONS, moons_figure, args.runs, ch10_generative.FULL_MARKS_RATIO, False)


if __name__ == "__main__":
    main()
