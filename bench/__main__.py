"""``python -m bench``: run every benchmark and print its figures."""

from __future__ import annotations

import argparse

from bench.pipeline import run_pipeline_benchmark
from bench.routing import run_routing_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--responses", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="injected per call")
    parser.add_argument("--rules", type=int, default=100, help="rules in the routing benchmark")
    args = parser.parse_args()
    run_pipeline_benchmark(
        responses=args.responses, accounts=args.accounts, latency=args.latency_ms / 1000
    )
    run_routing_benchmark(n_rules=args.rules)


if __name__ == "__main__":
    main()
