"""How often the NPS intervals hold the true NPS: simulated samples of known category shares.

``python -m bench.nps_coverage [--samples 2000] [--seed 7]`` prints, per sample size and true
shares (promoters/passives/detractors), the share of samples whose 95% interval holds the true
NPS, for the adjusted interval nps-sync reports and for the plain Wald interval.
"""

from __future__ import annotations

import argparse
import random

from insights.nps import Counts, Method, nps_interval

SIZES = (5, 10, 20, 50, 200)
SHARES = (
    (0.5, 0.3, 0.2),
    (0.9, 0.08, 0.02),
    (0.1, 0.2, 0.7),
    (0.33, 0.34, 0.33),
    (0.97, 0.02, 0.01),
)
METHODS: tuple[Method, ...] = ("adjusted", "wald")


def coverage(
    rng: random.Random, shares: tuple[float, float, float], n: int, method: Method, samples: int
) -> float:
    """Share of ``samples`` samples of ``n`` whose interval holds the true NPS."""
    truth = 100.0 * (shares[0] - shares[2])
    held = 0
    for _ in range(samples):
        drawn = rng.choices(range(3), weights=shares, k=n)
        found = nps_interval(Counts(drawn.count(0), drawn.count(1), drawn.count(2)), method=method)
        assert found.low is not None
        assert found.high is not None
        held += found.low <= truth <= found.high
    return held / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print("respondents  shares P/Pa/D     " + "  ".join(f"{m:>8}" for m in METHODS))
    for n in SIZES:
        for shares in SHARES:
            found = [coverage(rng, shares, n, m, args.samples) for m in METHODS]
            label = "/".join(f"{s:.2f}" for s in shares)
            print(f"{n:>11}  {label:<16}  " + "  ".join(f"{c:>8.1%}" for c in found))


if __name__ == "__main__":
    main()
