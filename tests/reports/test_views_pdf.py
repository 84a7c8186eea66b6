"""``nps-sync report --pdf``: the same page printed by the system's headless Chromium, and a
clear error naming what is missing when there is none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.core.errors import EXIT_REFUSED, exit_code
from sync.reports.executive import executive_report
from sync.reports.page import render
from sync.reports.pdf import MissingToolError, PrintError, find_chromium, print_pdf
from tests.reports.test_views_page import UNTIL, answers
from tests.support import require, run_cli

CHROMIUM = Path("/usr/bin/chromium")


def test_the_report_prints_to_a_pdf_of_its_own_pages(tmp_path: Path) -> None:
    chromium = require(CHROMIUM, "Chromium (apt-get install chromium, or make browser)")
    out = tmp_path / "report.pdf"

    print_pdf(render(executive_report(answers(), "month", UNTIL)), out, chromium=chromium)

    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 2  # trend, segments, loop: pages
    assert len(data) > 20_000  # the charts are in it, not a blank page


def test_without_chromium_the_error_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(MissingToolError, match="--pdf needs Chromium") as raised:
        find_chromium({"PATH": str(tmp_path)})
    assert "apt-get install chromium" in raised.value.fix
    assert exit_code(raised.value) == EXIT_REFUSED

    with pytest.raises(MissingToolError, match="NPS_SYNC_CHROMIUM names 'no-such-chromium'"):
        find_chromium({"NPS_SYNC_CHROMIUM": "no-such-chromium", "PATH": str(tmp_path)})


def test_the_command_says_so_before_any_work(tmp_path: Path) -> None:
    config = tmp_path / "nps-sync.yaml"
    config.write_text("not read: the missing Chromium is found first\n", encoding="utf-8")
    done = run_cli(
        "report", "-c", config, "--pdf", tmp_path / "r.pdf",
        env={"NPS_SYNC_CHROMIUM": str(tmp_path / "chromium")},
    )  # fmt: skip
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert "NPS_SYNC_CHROMIUM names" in done.stderr
    assert "Fix: point NPS_SYNC_CHROMIUM at the Chromium binary" in done.stderr
    assert not (tmp_path / "r.pdf").exists()


def test_a_failed_print_leaves_the_last_pdf_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    out.write_bytes(b"%PDF- last period's")
    with pytest.raises(PrintError, match="Chromium did not write"):
        print_pdf("<p>page</p>", out, chromium=Path("/bin/false"))
    assert out.read_bytes() == b"%PDF- last period's"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]  # no partial file beside it
