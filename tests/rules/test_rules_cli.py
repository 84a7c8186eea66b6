"""``nps-sync rules ...``: outputs and exit codes admins can script against."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rules import EXAMPLES_DIR, rules_json_schema
from sync.cli import main

TESTDATA = Path(__file__).parents[2] / "rules" / "testdata"
DEFAULT = EXAMPLES_DIR / "default.yaml"


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["rules", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_check_ok() -> None:
    code, out, err = run("check", DEFAULT)
    assert (code, out, err) == (0, f"{DEFAULT}: ok (7 rules, 6 actions)\n", "")


def test_check_prints_diagnostics_on_stderr_and_exits_1() -> None:
    broken = TESTDATA / "unknown_key.yaml"
    code, out, err = run("check", DEFAULT, broken)
    assert code == 1
    assert out == f"{DEFAULT}: ok (7 rules, 6 actions)\n"
    assert err == (
        f"{broken}:5:5: unknown key 'subjct' in salesforce_task action; did you mean 'subject'?\n"
    )


def test_check_on_a_glob_checks_cases_files_against_their_rules_file() -> None:
    files = sorted(EXAMPLES_DIR.glob("*.yaml"))
    code, out, err = run("check", *files)
    assert (code, err) == (0, "")
    assert f"{EXAMPLES_DIR / 'default.cases.yaml'}: ok (22 cases for default.yaml)\n" in out
    assert f"{DEFAULT}: ok (7 rules, 6 actions)\n" in out
    assert len(out.splitlines()) == len(files)


def test_check_names_a_cases_file_without_its_rules_file(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely.cases.yaml"
    lonely.write_text((EXAMPLES_DIR / "default.cases.yaml").read_text("utf-8"), "utf-8")
    code, _, err = run("check", lonely)
    assert code == 1
    assert err == f"{lonely}: a cases file, but its rules file lonely.yaml is not beside it\n"


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    code, _, err = run("check", tmp_path / "nope.yaml")
    assert code == 1
    assert err == (
        f"{tmp_path / 'nope.yaml'}: cannot read file: No such file or directory (check the "
        "path; a config's rules path is read from its folder)\n"
    )


@pytest.mark.parametrize(
    "kind",
    ["pipe", "device", "huge"],
)
def test_check_refuses_what_cannot_be_a_rules_file_without_reading_it(
    tmp_path: Path, kind: str
) -> None:
    """A pipe hung the command (and a daemon reloading it), /dev/zero and a 200 MB file took
    gigabytes before any check."""
    import os
    import time

    path = tmp_path / "rules.yaml"
    if kind == "pipe":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        with path.open("wb") as handle:
            handle.truncate(9_000_000)  # sparse: no disk spent
    started = time.monotonic()
    code, _, err = run("check", path)
    assert code == 1
    assert time.monotonic() - started < 5
    reason = "larger than 8,000,000 bytes" if kind == "huge" else "not a regular file"
    assert f"{path}: " in err
    assert reason in err


def test_test_prints_a_table_and_passes() -> None:
    code, out, _ = run("test", DEFAULT, EXAMPLES_DIR / "default.cases.yaml")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["RESULT", "CASE", "EXPECTED", "ACTUAL"]
    assert lines[1].startswith("pass    detractor gets a call and a ticket")
    assert lines[-1] == "22 passed, 0 failed"


def test_test_exits_1_and_shows_expected_and_actual_on_mismatch(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "- name: promoter\n  fields: {score: 10, comment: Great}\n  expect: [passive_followup]\n",
        encoding="utf-8",
    )
    code, out, _ = run("test", DEFAULT, cases)
    assert code == 1
    assert out.splitlines()[1].split() == [
        "FAIL",
        "promoter",
        "actions:",
        "passive_followup",
        "actions:",
        "referral_ask",
    ]
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_test_reports_errors_in_the_cases_file(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("- name: x\n  fields: {scroe: 1}\n  expect: []\n", encoding="utf-8")
    code, _, err = run("test", DEFAULT, cases)
    assert code == 1
    assert err == f"{cases}:2:12: unknown field 'scroe'; did you mean 'score'?\n"


def test_schema_prints_the_json_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    assert json.loads(out) == rules_json_schema()


def test_route_prints_matched_rules_and_actions() -> None:
    code, out, _ = run("route", DEFAULT, "score=2", "comment=Too slow")
    assert (code, out) == (
        0,
        "detractor-call  -> detractor_followup  (continue; cooldown person_email 7d; settle 15m)\n"
        "detractors      -> detractor_ticket  (settle 15m)\n",
    )


def test_route_reads_values_by_field_type_and_says_when_nothing_matched(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "version: 1\nactions: {}\nrules:\n  - name: unmatched\n"
        "    when: {all: [{matched.zendesk: false}, {account.region: '42'}]}\n"
        "    actions: []\n    settle: 15m\n",
        encoding="utf-8",
    )
    assert run("route", rules, "matched.zendesk=false", "account.region=42")[1] == (
        "unmatched  -> (none)  (settle 15m)\n"
    )
    assert run("route", rules, "matched.zendesk=true")[1] == "no rule matched\n"


def test_route_explain_shows_the_trace() -> None:
    code, out, _ = run("route", DEFAULT, "score=8", "comment=", "--explain")
    assert code == 0
    assert out.splitlines()[:6] == [
        "rule detractor-call: no match",
        "  no  category eq 'detractor'  [category = 'passive']",
        "rule enterprise-detractors: no match",
        "  no  all",
        "    no  category eq 'detractor'  [category = 'passive']",
        "    no  account.tier eq 'Enterprise'  [account.tier = None]",
    ]
    assert "\n".join(out.splitlines()[12:19]) == "\n".join(
        [
            "rule passives-with-comment: no match",
            "  no  all",
            "    yes category eq 'passive'  [category = 'passive']",
            "    no  comment_present eq true  [comment_present = False]",
            "rule promoters-with-comment: no match",
            "  no  all",
            "    no  category eq 'promoter'  [category = 'passive']",
        ]
    )
    assert out.splitlines()[-1] == "default  -> (none)"


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("scroe=3", "unknown field 'scroe'; did you mean 'score'?"),
        ("score=high", "score is a whole number, got 'high'"),
        ("score", "'score' is not FIELD=VALUE"),
    ],
)
def test_route_rejects_bad_arguments_with_usage_errors(argument: str, message: str) -> None:
    code, _, err = run("route", DEFAULT, argument)
    assert code == 2
    assert message in err


def test_fields_lists_the_catalogue() -> None:
    code, out, _ = run("fields")
    assert code == 0
    assert out.splitlines()[0].split()[:2] == ["score", "integer"]
    assert any(line.startswith("account.days_to_renewal") for line in out.splitlines())


def test_route_preview_renders_the_actions_it_would_run() -> None:
    code, out, _ = run(
        "route", DEFAULT, "score=2", "comment=Too slow", "account.name=Acme",
        "contact.name=Jane Doe", "--preview",
    )  # fmt: skip
    assert code == 0
    assert "detractor_followup (salesforce_task):\n  owner: account_owner\n" in out
    assert "  subject: NPS detractor (2): call Jane Doe\n" in out
    assert "    Comment: Too slow\n" in out
    assert "  due_in: 1d\n" in out
    assert "detractor_ticket (zendesk_ticket):\n" in out
    assert "  tags: detractor\n" in out
    assert "  priority: normal\n" in out


def test_route_preview_of_a_template_that_cannot_render_exits_1(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\n"
        "actions:\n"
        "  call:\n"
        "    type: salesforce_task\n"
        "    subject: '{{ response.comment[0] }}'\n"
        "    due_in: 1d\n"
        "rules:\n"
        "  - name: all\n"
        "    actions: [call]\n",
        encoding="utf-8",
    )
    code, out, _ = run("route", rules, "score=2", "comment=", "--preview")
    assert code == 1
    assert "call (salesforce_task):\n  cannot be rendered: " in out
