"""``python -m bench``: run the benchmarks and print their figures.

By default (``make bench``, about ten minutes on two cores): first syncs of 1,000 and 10,000 new
responses with their API calls against the batching lower bounds, the 10,000 one again on
PostgreSQL, the Salesforce calls of two data shapes, routing throughput, a Zendesk burst and a
backfill of 20,000 responses, then the comment text analytics on the shared feedback data
(``../shared/data``, about ten minutes more). The large rows are opt-in: ``--large`` adds a
first sync of 100,000 (pass after pass until the backlog is done, against the time the rate
limits impose), the imports of a 200 MB JSONL export and of a 1,000,000-line CSV export, and a
backfill of 100,000 at 100 ms per call.
A row whose run fails prints the failure and what it measured; the benchmark goes on.
"""

from __future__ import annotations

import argparse

from bench.backfill import run_backfill_benchmark
from bench.first_sync import run_first_sync_benchmarks
from bench.jsonl_import import run_csv_benchmark, run_jsonl_benchmark
from bench.pipeline import run_salesforce_benchmark
from bench.routing import run_routing_benchmark
from bench.text import run_text_benchmark
from bench.webhooks import run_webhook_benchmark
from bench.zendesk import run_zendesk_benchmark


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--first-sync",
        type=_sizes,
        default=[1000, 10_000],
        metavar="N,N",
        help="sizes of the first-sync and API-call rows (default 1000,10000)",
    )
    parser.add_argument(
        "--until-done",
        action="store_true",
        help="run each first sync pass after pass until no work is deferred (a pass stops at "
        "Zendesk's 700 requests a minute): the backlog's whole time",
    )
    parser.add_argument("--accounts", type=int, default=300, help="accounts in the seed")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="injected per call")
    parser.add_argument(
        "--backlog-latency-ms",
        type=float,
        default=100.0,
        help="injected per call in the first syncs run until done (a backlog under real limits)",
    )
    parser.add_argument(
        "--backends-at",
        type=int,
        default=10_000,
        metavar="N",
        help="first sync on SQLite and PostgreSQL side by side (0: skip)",
    )
    parser.add_argument(
        "--jsonl-mb", type=float, default=0, metavar="MB", help="import a JSONL export this big"
    )
    parser.add_argument(
        "--csv-lines",
        type=lambda text: int(text.replace("_", "")),
        default=0,
        metavar="N",
        help="import a CSV export of this many lines",
    )
    parser.add_argument("--rules", type=int, default=100, help="rules in the routing benchmark")
    parser.add_argument("--burst", type=int, default=150, help="tickets in the Zendesk burst")
    parser.add_argument("--backfill", type=int, default=20_000, help="responses to backfill")
    parser.add_argument(
        "--large",
        action="store_true",
        help="also a first sync of 100,000, a 200 MB JSONL and a 1,000,000-line CSV import, "
        "a backfill of 100,000",
    )
    parser.add_argument(
        "--only",
        choices=(
            "first-sync",
            "jsonl",
            "csv",
            "salesforce",
            "routing",
            "zendesk",
            "backfill",
            "webhooks",
            "text",
        ),
        action="append",
        help="run only these rows (repeatable)",
    )
    parser.add_argument("--webhooks", type=int, default=200, help="signed webhooks to send")
    parser.add_argument(
        "--webhook-rate", type=float, default=5.0, help="webhooks a second, steadily"
    )
    parser.add_argument(
        "--webhook-latency-ms",
        type=float,
        default=100.0,
        help="added to every API call in the webhook rows",
    )
    args = parser.parse_args()
    sizes = list(args.first_sync)
    until_done = set(sizes) if args.until_done else set()
    if args.large:
        until_done.add(100_000)
        sizes = sorted({*sizes, 100_000})
        args.jsonl_mb = args.jsonl_mb or 200
        args.csv_lines = args.csv_lines or 1_000_000
        args.backfill = max(args.backfill, 100_000)
    rows = set(
        args.only
        or (
            "first-sync",
            "jsonl",
            "csv",
            "salesforce",
            "routing",
            "zendesk",
            "backfill",
            "webhooks",
            "text",
        )
    )

    if "first-sync" in rows:
        run_first_sync_benchmarks(
            sizes,
            accounts=args.accounts,
            latency=args.latency_ms / 1000,
            backends_at=args.backends_at,
            until_done=frozenset(until_done),
            backlog_latency=args.backlog_latency_ms / 1000,
        )
    if "jsonl" in rows and args.jsonl_mb:
        run_jsonl_benchmark(args.jsonl_mb)
    if "csv" in rows and args.csv_lines:
        run_csv_benchmark(args.csv_lines)
    if "salesforce" in rows:
        run_salesforce_benchmark(responses=1000, accounts=args.accounts)
    if "routing" in rows:
        run_routing_benchmark(n_rules=args.rules)
    if "zendesk" in rows:
        run_zendesk_benchmark(tickets=args.burst)
    if "backfill" in rows:
        run_backfill_benchmark(responses=args.backfill)
    if "webhooks" in rows:
        run_webhook_benchmark(
            count=args.webhooks,
            rate=args.webhook_rate,
            latency=args.webhook_latency_ms / 1000,
        )
    if "text" in rows:
        run_text_benchmark()


if __name__ == "__main__":
    main()
