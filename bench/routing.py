"""Routing benchmark: responses per second through a 100-rule ruleset on one core."""

from __future__ import annotations

from rich.console import Console

from bench.synthetic_rules import route_throughput


def run_routing_benchmark(*, n_rules: int = 100, n_responses: int = 20_000) -> float:
    best = max(route_throughput(n_rules, n_responses) for _ in range(3))
    Console().print(
        f"Routing: {best:,.0f} responses/s on one core with {n_rules} rules "
        f"(best of 3 runs of {n_responses:,})"
    )
    return best
