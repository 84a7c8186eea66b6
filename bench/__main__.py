"""``python -m bench``: run every benchmark and print its figures."""

from __future__ import annotations

import argparse

from bench.backfill import run_backfill_benchmark
from bench.pipeline import run_pipeline_benchmark, run_salesforce_benchmark
from bench.routing import run_routing_benchmark
from bench.zendesk import run_zendesk_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--responses", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="injected per call")
    parser.add_argument("--rules", type=int, default=100, help="rules in the routing benchmark")
    parser.add_argument("--burst", type=int, default=150, help="tickets in the Zendesk burst")
    parser.add_argument("--backfill", type=int, default=20_000, help="responses to backfill")
    args = parser.parse_args()
    run_pipeline_benchmark(
        responses=args.responses, accounts=args.accounts, latency=args.latency_ms / 1000
    )
    run_salesforce_benchmark(responses=args.responses, accounts=args.accounts)
    run_routing_benchmark(n_rules=args.rules)
    run_zendesk_benchmark(tickets=args.burst)
    run_backfill_benchmark(responses=args.backfill)


if __name__ == "__main__":
    main()
