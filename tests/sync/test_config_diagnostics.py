"""Every invariant of the config file has a small broken file and the exact message it must give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from rules import RulesError, load_rules
from sync.app.reload import RulesHolder
from sync.core.config import parse_config
from sync.core.config.checks import rules_against
from sync.core.config.model import SourceConfig, TextConfig
from sync.core.errors import ConfigFileError

TESTDATA = Path(__file__).parent / "config_testdata"

EXPECTED = {
    "act_window_without_unit.yaml": (
        "7:32: routing.act_on_responses_newer_than: expected a duration like 30m, 4h, 2d or 1w,"
        " got 14 (write '14m', '14h' or '14d')"
    ),
    "act_window_zero.yaml": (
        "7:32: routing.act_on_responses_newer_than: must be a positive duration like 14d (0 "
        "would never act at all)"
    ),
    "alias_bomb.yaml": (
        "1:1: the document expands to more than 100,000 values; aliases (*name) that repeat "
        "anchors (&name) are limited"
    ),
    "bad_cron.yaml": (
        "7:19: schedule.reconcile_cron: not a crontab line (minute hour day month weekday): "
        "Wrong number of fields; got 4, expected 5"
    ),
    "bad_template.yaml": (
        "6:23: zendesk.tickets.context_template: template syntax error: unexpected end of "
        "template, expected 'end of print statement'."
    ),
    "business_hours_reversed.yaml": (
        "8:13: business_hours.end_hour: must be after start_hour (17); business hours run "
        "from start to end within one day"
    ),
    "business_hours_timezone.yaml": (
        "7:13: business_hours.timezone: unknown time zone 'Europe/Berln' (use an IANA name "
        "like Europe/Berlin)"
    ),
    "duplicate_source_name.yaml": (
        "9:5: sources[1]: source name 'delighted' is already used by the source at line 7; "
        "give each source its own `name` (it keys the source's cursor)"
    ),
    "duplicate_yaml_key.yaml": "6:1: duplicate key 'rules' (the mapping starts at line 1)",
    "email_password_without_username.yaml": (
        "9:3: email.password: an SMTP password needs a username"
    ),
    "empty_file.yaml": (
        "1:1: the config file is empty; it needs at least salesforce, zendesk and rules"
    ),
    "history_field_twice.yaml": (
        "11:17: write_back.history.fields.category: NPS_Response__c field Score__c is already"
        " used for score"
    ),
    "loopback_route_elsewhere.yaml": (
        "7:3: loopback_routes: may only point at a loopback origin such as "
        "http://127.0.0.1:8080, not http://10.0.0.1:8080"
    ),
    "loopback_route_userinfo.yaml": (
        "7:3: loopback_routes: may only point at a loopback origin such as "
        "http://127.0.0.1:8080, not http://localhost@evil.example:80"
    ),
    "metric_overwrites_input.yaml": (
        "9:14: write_back.salesforce.account.trend: metric 'trend' would overwrite Account "
        "field tier__c, which nps-sync reads (salesforce.fields.account_tier); write it to "
        "another field"
    ),
    "metric_overwrites_email.yaml": (
        "9:23: write_back.salesforce.contact.previous_score: metric 'previous_score' would "
        "overwrite Contact field Email, which nps-sync reads (a standard field, to match and "
        "route); write it to another field"
    ),
    "metric_written_twice.yaml": (
        "9:23: write_back.salesforce.contact.previous_score: Contact field NPS_Last_Score__c "
        "is written twice: by metric 'previous_score' here and by 'last_score' "
        "(salesforce.fields.contact_last_score, by default)"
    ),
    "missing_key.yaml": "2:3: salesforce: missing required key 'instance_url'",
    "missing_section.yaml": "1:1: missing required key 'zendesk'",
    "out_of_range.yaml": "7:27: schedule.drain_interval_seconds: must be at least 5, got 1",
    "plaintext_secret.yaml": (
        "5:15: salesforce.auth.password: secrets are never written in the config file; use "
        "{env: NAME} or {file: PATH}"
    ),
    "required_key_typo.yaml": (
        "2:3: unknown key 'instance_ur' in salesforce; did you mean 'instance_url'?"
    ),
    "secret_reference_as_text.yaml": (
        "5:15: salesforce.auth.password: this reads like a reference to a secret written as "
        "text, which nps-sync does not expand; use {env: NAME} or {file: PATH}, as a mapping "
        "(not in quotes)"
    ),
    "section_typo.yaml": (
        "1:1: unknown key 'salesforc' in the config file; did you mean 'salesforce'?"
    ),
    "salesforce_client_credentials_domain.yaml": (
        "4:5: salesforce.auth.domain: client_credentials needs your My Domain as domain, e.g."
        " acme.my"
    ),
    "loop_sla_resolution_first.yaml": (
        "8:60: loop.sla[0].resolution: must not come before first_contact (1d)"
    ),
    "loop_sla_without_deadline.yaml": "8:7: loop.sla[0]: give first_contact, resolution or both",
    "salesforce_domain_with_scheme.yaml": (
        "6:13: salesforce.auth.domain: give the domain without scheme or .salesforce.com, "
        "e.g. acme.my"
    ),
    "salesforce_jwt_incomplete.yaml": (
        "4:13: salesforce.auth.method: login method jwt needs consumer_key, private_key"
    ),
    "secret_env_and_file.yaml": "8:14: sources[0].api_key: give either env or file, not both",
    "secret_key_typo.yaml": "8:15: unknown key 'evn' in sources[0].api_key; did you mean 'env'?",
    "source_without_type.yaml": (
        "7:5: sources[0]: missing required key 'type' ('delighted', 'typeform' or 'file')"
    ),
    "tab_indent.yaml": (
        "3:1: invalid YAML: a tab here; indent with spaces (YAML does not allow tabs)"
    ),
    "unknown_key.yaml": "4:5: unknown key 'tie' in salesforce.matching; did you mean 'ties'?",
    "unknown_metric.yaml": (
        "9:7: unknown key 'last_scor' in write_back.salesforce.contact; did you mean 'last_score'?"
    ),
    "unknown_source_type.yaml": (
        "7:11: sources[0].type: unknown type 'typform'; expected 'delighted', 'typeform' or "
        "'file'; did you mean 'typeform'?"
    ),
    "unknown_top_level_key.yaml": (
        "6:1: unknown key 'buisness_hours' in the config file; did you mean 'business_hours'?"
    ),
    "wrong_choice.yaml": (
        "4:11: salesforce.matching.ties: expected 'same_account' or 'oldest', got 'olderst'; "
        "did you mean 'oldest'?"
    ),
    "wrong_type.yaml": "6:13: batch_size: expected a number, got 'lots'",
    "zendesk_email_without_token.yaml": (
        "6:5: zendesk.auth.email: give email with an API token (token), or an OAuth token "
        "(oauth_token)"
    ),
    "zendesk_two_logins.yaml": (
        "7:5: zendesk.auth.token: give either token (with email) or oauth_token, not both"
    ),
}


def diagnose(name: str) -> ConfigFileError:
    with pytest.raises(ConfigFileError) as caught:
        parse_config((TESTDATA / name).read_text(encoding="utf-8"), Path(name))
    return caught.value


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_broken_file_reports_exact_diagnostic(name: str, expected: str) -> None:
    assert str(diagnose(name)) == f"{name}:{expected}"


#: Files with several problems, each reported in the same pass, in file order.
SEVERAL = {
    "tabs_everywhere.yaml": [
        "2:1: invalid YAML: a tab here; indent with spaces (YAML does not allow tabs)",
        "4:1: invalid YAML: a tab here; indent with spaces (YAML does not allow tabs)",
        "6:1: unknown key 'batch_sise' in the config file; did you mean 'batch_size'?",
        "8:1: invalid YAML: a tab here; indent with spaces (YAML does not allow tabs)",
        "8:25: schedule.poll_interval_seconds: must be at least 10, got 3",
    ],
    "duplicates_and_unknown_key.yaml": [
        "4:3: duplicate key 'api_version' (the mapping starts at line 2)",
        "8:1: duplicate key 'rules' (the mapping starts at line 1)",
        "9:1: unknown key 'batch_sise' in the config file; did you mean 'batch_size'?",
    ],
    "cross_section_and_field_errors.yaml": [
        "5:15: salesforce.auth.password: secrets are never written in the config file; use "
        "{env: NAME} or {file: PATH}",
        "8:44: zendesk.auth.token: this reads like a reference to a secret written as text, "
        "which nps-sync does not expand; use {env: NAME} or {file: PATH}, as a mapping (not in "
        "quotes)",
        "10:13: batch_size: must be at least 1, got 0",
        "14:23: write_back.salesforce.contact.previous_score: Contact field NPS_Last_Score__c is "
        "written twice: by metric 'previous_score' here and by 'last_score' "
        "(salesforce.fields.contact_last_score, by default)",
    ],
}


@pytest.mark.parametrize(("name", "expected"), sorted(SEVERAL.items()))
def test_every_problem_of_a_file_is_reported_in_one_pass(name: str, expected: list[str]) -> None:
    assert [str(d) for d in diagnose(name).diagnostics] == [f"{name}:{e}" for e in expected]


def test_every_broken_file_has_an_expectation() -> None:
    on_disk = {path.name for path in TESTDATA.glob("*.yaml")} - {"several_problems.yaml"}
    assert on_disk == set(EXPECTED) | set(SEVERAL)


def test_all_problems_are_reported_together_in_file_order() -> None:
    name = "several_problems.yaml"
    assert [str(d) for d in diagnose(name).diagnostics] == [
        f"{name}:6:15: salesforce.auth.password: secrets are never written in the config file; "
        "use {env: NAME} or {file: PATH}",
        f"{name}:8:5: unknown key 'tie' in salesforce.matching; did you mean 'ties'?",
        f"{name}:12:20: zendesk.tickets.history_limit: must be at most 50, got 500",
        f"{name}:14:13: batch_size: expected a number, got 'lots'",
    ]


@pytest.mark.parametrize(
    ("name", "secrets"),
    [
        ("several_problems.yaml", ["hunter2"]),
        ("cross_section_and_field_errors.yaml", ["hunter2", "ZENDESK_TOKEN"]),
        ("secret_reference_as_text.yaml", ["SF_PASSWORD"]),
    ],
)
def test_a_value_written_where_a_secret_belongs_is_never_repeated(
    name: str, secrets: list[str]
) -> None:
    error = diagnose(name)
    assert not [s for s in secrets if s in str(error)]
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_business_hours_that_close_before_they_open_never_reach_the_calendar() -> None:
    """Once accepted, such hours made the escalation calendar loop until OverflowError."""
    assert "must be after start_hour" in str(diagnose("business_hours_reversed.yaml"))


def test_an_auth_section_left_out_is_fine_for_offline_commands() -> None:
    text = (TESTDATA / "unknown_key.yaml").read_text(encoding="utf-8").replace("tie:", "ties:")
    config = parse_config(text, Path("nps-sync.yaml"))
    assert config.salesforce.auth.method == "password"
    assert config.salesforce.auth.missing() == ["username", "password"]


MINIMAL = (TESTDATA / "unknown_key.yaml").read_text(encoding="utf-8").replace("tie:", "ties:")

RULES_EXPECTED = {
    "update_managed_field.yaml": (
        "9:7: Contact field nps_category__c holds the metric 'category', which the write-back "
        "stage manages (see write_back in the config); the next write-back would undo this "
        "action, so write another field"
    ),
    "settle_past_the_window.yaml": (
        "11:13: rule 'detractors' waits 15d before acting, but routing acts only on responses "
        "newer than 14d (routing.act_on_responses_newer_than in the config): its actions could "
        "never run; settle for less, or widen that window"
    ),
    "email_without_smtp.yaml": (
        "5:14: action 'tell_cx' sends email, but the config has no `email` section (the SMTP "
        "server to send through)"
    ),
}


@pytest.mark.parametrize(("name", "expected"), sorted(RULES_EXPECTED.items()))
def test_rules_are_checked_against_the_config_they_run_with(name: str, expected: str) -> None:
    path = TESTDATA / "rules" / name
    load_rules(path)  # valid on its own
    config = parse_config(MINIMAL, Path("nps-sync.yaml"))
    with pytest.raises(RulesError) as caught:
        load_rules(path, check=rules_against(config))
    assert str(caught.value) == f"{path}:{expected}"


def test_a_reload_that_conflicts_with_the_config_keeps_the_rules_in_force(
    tmp_path: Path,
) -> None:
    config = parse_config(MINIMAL, Path("nps-sync.yaml"))
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        (TESTDATA / "rules" / "update_managed_field.yaml")
        .read_text(encoding="utf-8")
        .replace("nps_category__c", "Churn_Reason__c"),
        encoding="utf-8",
    )
    holder = RulesHolder.load(rules, check=rules_against(config))
    in_force = holder.current.hash
    conflicting = (TESTDATA / "rules" / "update_managed_field.yaml").read_text(encoding="utf-8")
    rules.write_text(conflicting + "\n", encoding="utf-8")
    assert holder.refresh() is False
    assert holder.current.hash == in_force
    assert holder.last_error is not None
    assert "holds the metric 'category'" in holder.last_error


DELIGHTED = {"type": "delighted", "api_key": {"env": "K"}}
TYPEFORM = {"type": "typeform", "form_id": "f1", "token": {"env": "T"}, "score_ref": "nps"}
FILES = {"type": "file", "path": "answers.csv"}


@pytest.mark.parametrize(
    ("sources", "refused"),
    [
        pytest.param([DELIGHTED, TYPEFORM], ["16:21"], id="a rule limited to Typeform"),
        pytest.param([TYPEFORM, FILES], ["16:21", "19:15"], id="no Delighted source at all"),
        pytest.param([DELIGHTED], [], id="Delighted only: the Typeform rule never fires"),
        pytest.param([], [], id="no sources (offline commands)"),
    ],
)
def test_a_resurvey_no_reached_source_can_schedule_is_refused_at_its_line(
    sources: list[dict[str, Any]], refused: list[str]
) -> None:
    path = TESTDATA / "rules" / "resurvey_without_scheduler.yaml"
    config = parse_config(MINIMAL, Path("nps-sync.yaml")).model_copy(
        update={"sources": TypeAdapter(list[SourceConfig]).validate_python(sources)}
    )
    if not refused:
        load_rules(path, check=rules_against(config))
        return
    with pytest.raises(RulesError) as caught:
        load_rules(path, check=rules_against(config))
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}:{at}" for at in refused]
    assert "asks for the resurvey action 'win_back'" in lines[0]
    assert "cannot schedule a survey: only a Delighted source" in lines[0]


COMMENT_RULES = """version: 1
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "NPS {{ response.score }}"
    due_in: 1d
rules:
  - name: onboarding
    when:
      any:
        - themes: {contains: onbording}
        - sentiment: {lt: -0.5}
    actions: [call]
"""


def test_conditions_on_what_comments_say_are_checked_against_the_text_section(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(COMMENT_RULES, encoding="utf-8")
    off = parse_config(MINIMAL, Path("nps-sync.yaml"))
    with pytest.raises(RulesError) as caught:
        load_rules(rules, check=rules_against(off))
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{rules}:12:11", f"{rules}:13:11"]
    assert "reads 'themes', which only the text analytics fill in, and they are off" in lines[0]

    taxonomy = tmp_path / "themes.yaml"
    taxonomy.write_text(
        "themes:\n  - name: onboarding\n    description: Getting started\n", encoding="utf-8"
    )
    on = off.model_copy(update={"text": TextConfig(enabled=True, taxonomy=taxonomy)})
    with pytest.raises(RulesError) as caught:
        load_rules(rules, check=rules_against(on))
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{rules}:12:30: 'onbording' is not a theme of the taxonomy")
    assert "did you mean 'onboarding'" in line
    rules.write_text(COMMENT_RULES.replace("onbording", "onboarding"), encoding="utf-8")
    load_rules(rules, check=rules_against(on))


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ("labels.theme: [Onboarding, pricing]", None),  # names in any case, as the tests match
        ("themes: {contains: ONBOARDING}", None),
        ("labels.theme: {regex: '^onb'}", None),  # a pattern, not a name
        ("labels.theme: {contains: board}", None),  # a part of a name
        ("labels.theme: {in: [onboarding, prcing]}", "'prcing' is not a theme of the taxonomy"),
        ("labels.theme: onbording", "'onbording' is not a theme of the taxonomy"),
    ],
)
def test_theme_names_are_checked_where_a_test_takes_a_whole_name(
    tmp_path: Path, condition: str, problem: str | None
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        COMMENT_RULES.replace("themes: {contains: onbording}", condition), encoding="utf-8"
    )
    taxonomy = tmp_path / "themes.yaml"
    taxonomy.write_text(
        "themes:\n  - {name: Onboarding, description: Getting started}\n"
        "  - {name: Pricing, description: What it costs}\n",
        encoding="utf-8",
    )
    off = parse_config(MINIMAL, Path("nps-sync.yaml"))
    on = off.model_copy(update={"text": TextConfig(enabled=True, taxonomy=taxonomy)})
    if problem is None:
        load_rules(rules, check=rules_against(on))
    else:
        with pytest.raises(RulesError, match=problem):
            load_rules(rules, check=rules_against(on))
    with pytest.raises(RulesError, match="which only the text analytics fill in"):
        load_rules(rules, check=rules_against(off))


SUPPORT_RULES = """version: 1
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "NPS {{ response.score }}"
    due_in: 1d
rules:
  - name: busy
    when: {support.open_tickets: {gte: 2}}
    actions: [call]
"""


def test_conditions_on_support_history_need_the_ticket_mirror(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(SUPPORT_RULES, encoding="utf-8")
    mirrored = parse_config(MINIMAL, Path("nps-sync.yaml"))
    assert mirrored.zendesk.tickets.context_from == "export"
    load_rules(rules, check=rules_against(mirrored))
    tickets = mirrored.zendesk.tickets.model_copy(update={"context_from": "requests"})
    asked = mirrored.model_copy(
        update={"zendesk": mirrored.zendesk.model_copy(update={"tickets": tickets})}
    )
    with pytest.raises(RulesError) as caught:
        load_rules(rules, check=rules_against(asked))
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{rules}:10:12: rule 'busy' reads 'support.open_tickets'")
    assert "set it to 'export'" in line


def test_conditions_on_the_contact_role_need_its_field_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        SUPPORT_RULES.replace("{support.open_tickets: {gte: 2}}", "{contact.role: Champion}"),
        encoding="utf-8",
    )
    unnamed = parse_config(MINIMAL, Path("nps-sync.yaml"))
    with pytest.raises(RulesError) as caught:
        load_rules(rules, check=rules_against(unnamed))
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{rules}:10:12: rule 'busy' reads 'contact.role'")
    assert "salesforce.fields.contact_role" in line
    fields = unnamed.salesforce.fields.model_copy(update={"contact_role": "Role__c"})
    named = unnamed.model_copy(
        update={"salesforce": unnamed.salesforce.model_copy(update={"fields": fields})}
    )
    load_rules(rules, check=rules_against(named))
