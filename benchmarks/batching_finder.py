"""Probes used by the budget finder's search vs plain binary search, on noisy memory curves.

Run:  uv run python benchmarks/batching_finder.py [--curves 100] [--noise 0.01]

Each curve is peak(budget) = a + b * budget, times (1 + N(0, noise)) per probe, with the
largest budget that fits, x*, drawn log-uniformly in [300, 99000] and the intercept a
(weights, gradients, workspace) between 1 % and 40 % of the memory; a probe "does not
fit" when its peak exceeds the memory. Both searches run over [100, 100000] and stop
when the largest fitting and smallest failing budgets are within 3 % of each other;
binary search halves the bracket, canids_batching.search_max_budget fits the memory
line. A result counts as "within 5 %" when |budget / x* - 1| <= 0.05. Curved memory
(quadratic, sub-linear) is reported too, as a robustness check.
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from canids_batching import BatchingWarning, DoesNotFit, search_max_budget

LOW, HIGH, TOL = 100, 100_000, 0.03


def make_probe(shape: str, x_star: float, share: float, noise: float, rng):
    cap = 40 * 2**30
    a = share * cap

    def peak(x: float) -> float:
        u = x / x_star
        grow = {"linear": u, "quadratic": 0.3 * u + 0.7 * u * u, "sublinear": u**0.7}[shape]
        return a + (cap - a) * grow

    def probe(budget: int) -> int:
        p = peak(budget) * (1 + rng.normal(0, noise))
        if p > cap:
            raise DoesNotFit(budget)
        return int(p)

    return probe, cap


def binary_search(probe) -> tuple[int, int]:
    """Plain bisection: probe low, then halve [lb, ub] until within TOL."""
    probe(LOW)
    lb, ub, n = LOW, HIGH + 1, 1
    while ub - lb > max(1, TOL * ub):
        mid = (lb + ub) // 2
        n += 1
        try:
            probe(mid)
            lb = mid
        except DoesNotFit:
            ub = mid
    return lb, n


def run(shape: str, curves: int, noise: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {"ours_n": [], "ours_err": [], "bin_n": [], "bin_err": []}
    for _ in range(curves):
        x_star = math.exp(rng.uniform(math.log(300), math.log(99_000)))
        share = rng.uniform(0.01, 0.4)
        probe, cap = make_probe(shape, x_star, share, noise, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BatchingWarning)
            r = search_max_budget(probe, low=LOW, high=HIGH, capacity=cap, rel_tol=TOL)
        out["ours_n"].append(r.num_probes)
        out["ours_err"].append(abs(r.budget / x_star - 1))
        probe, _ = make_probe(shape, x_star, share, noise, rng)
        budget, n = binary_search(probe)
        out["bin_n"].append(n)
        out["bin_err"].append(abs(budget / x_star - 1))
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=int, default=100)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(
        f"{args.curves} random memory curves per row, search range [{LOW}, {HIGH}], "
        f"stop at {TOL:.0%} bracket, seed {args.seed}"
    )
    print(
        f"{'curve':>10} {'noise':>6} | {'ours median':>11} {'p90':>4} {'max':>4} "
        f"{'within 5%':>9} | {'binary median':>13} {'p90':>4} {'max':>4} {'within 5%':>9} | "
        f"{'probes saved':>12}"
    )
    for shape, noise in (
        ("linear", 0.0),
        ("linear", args.noise),
        ("linear", 2 * args.noise),
        ("quadratic", args.noise),
        ("sublinear", args.noise),
    ):
        r = run(shape, args.curves, noise, args.seed)
        print(
            f"{shape:>10} {noise:6.1%} | {np.median(r['ours_n']):11.1f} "
            f"{np.percentile(r['ours_n'], 90):4.0f} {r['ours_n'].max():4d} "
            f"{np.mean(r['ours_err'] <= 0.05):9.0%} | {np.median(r['bin_n']):13.1f} "
            f"{np.percentile(r['bin_n'], 90):4.0f} {r['bin_n'].max():4d} "
            f"{np.mean(r['bin_err'] <= 0.05):9.0%} | "
            f"{np.median(r['bin_n']) / np.median(r['ours_n']):11.2f}x"
        )


if __name__ == "__main__":
    main()
