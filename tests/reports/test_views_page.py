"""The executive report's page, rendered in-process from hand-built answers: every chart is an
inline SVG, the optional sections say why they are empty, and the inline figures are the
``--json`` document."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sync.loop.metrics import LoopRecord
from sync.reports.answers import Answer
from sync.reports.executive import executive_report, report_json
from sync.reports.page import Section, render

UNTIL = datetime(2026, 10, 31, 12, tzinfo=UTC)


def answers() -> list[Answer]:
    out = []
    for i in range(120):
        at = UNTIL - timedelta(days=i * 3)
        score = (i * 7) % 11
        loop = LoopRecord("s", f"r{i}", f"p{i}@x.test", score, at, state="open")
        tier = ("Enterprise", "SMB", "Mid-Market")[i % 3]
        out.append(
            Answer("s", f"r{i}", f"p{i}@x.test", "", score, "<script>x</script>", at,
                   tier=tier, region="EMEA", industry="Retail", loop=loop)
        )  # fmt: skip
    return out


def test_every_chart_is_inline_svg_and_the_figures_are_the_json_document() -> None:
    report = executive_report(answers(), "month", UNTIL)
    html = render(report)
    charts = re.findall(r'<figure class="chart" id="([^"]+)"><svg', html)
    assert charts == [
        "chart-trend",
        "chart-mix",
        "chart-segment-tier",
        "chart-segment-region",
        "chart-segment-industry",
        "chart-loop",
    ]
    assert "Comment themes are not computed" in html
    assert "Drivers are not computed." in html
    assert "Revenue is not computed." in html
    assert "<script>x</script>" not in html  # comments never reach the page
    inline = re.search(r'<script type="application/json" id="figures">(.*?)</script>', html)
    assert inline is not None
    assert json.loads(inline.group(1)) == json.loads(json.dumps(report_json(report)))
    assert "<metadata>" not in html


def test_an_optional_section_with_a_chart_is_drawn_in_its_place() -> None:
    report = executive_report(answers(), "quarter", UNTIL)
    section = Section("revenue", "Revenue", svg="<svg id='r'/>", notes=["At risk: <b>9</b>"])
    html = render(report, [section])
    assert "<h2>Revenue</h2>" in html
    assert '<p class="note">At risk: &lt;b&gt;9&lt;/b&gt;</p>' in html
    assert '<figure class="chart" id="chart-revenue"><svg id=\'r\'/></figure>' in html
    assert "Comment themes" not in html


def test_an_account_fields_values_are_drawn_as_written() -> None:
    from sync.reports.answers import with_account_values

    bands = {"001A00000000001": {"Band": "$1M-$5M"}, "001A00000000002": {"Band": "under $1M"}}
    found = [
        Answer("s", f"r{i}", f"p{i}@x.test", "", i % 11, "", UNTIL - timedelta(days=i),
               account_id=f"001A0000000000{1 + i % 2}AAA")
        for i in range(20)
    ]  # fmt: skip
    report = executive_report(with_account_values(found, bands), "month", UNTIL, ["Band"])
    page = render(report)
    # Not read as mathematics: the dollars stay.
    assert "$1M-$5M (n=10)" in page
    assert "under $1M (n=10)" in page
    assert 'id="chart-segment-Band"' in page
