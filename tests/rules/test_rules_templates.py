"""Templates: plain text from sandboxed Jinja2, where survey text stays data."""

from __future__ import annotations

import pytest

from rules import (
    FieldUpdatePayload,
    NotificationPayload,
    RenderError,
    RulesError,
    TaskPayload,
    Template,
    TicketPayload,
    parse_rules,
    render,
)
from rules.fields import BUILTIN_FIELDS
from rules.router import Ruleset
from rules.templates import (
    check_references,
    compile_template,
    context_tree,
    referenced_fields,
)

RULES = """
version: 1
actions:
  followup:
    type: salesforce_task
    owner: user:005000000000001AAA
    subject: "NPS {{ response.score }}
      from {{ contact.name }}"
    description: |
      {{ contact.name }} ({{ account.name }}) answered {{ response.score }}.
      Comment: {{ response.comment }}
    due_in: 4h
  ticket:
    type: zendesk_ticket
    subject: "{{ account.name | upper }}"
    body: "{{ response.comment | default('(no comment)', true) }}"
    tags: [nps]
  health:
    type: update_fields
    system: zendesk
    object: organization
    values: {nps_comment: "{{ response.comment }}", nps_flag: true, nps_score: 7}
  mail:
    type: notify
    channel: email
    to: [cx@example.com]
    subject: "{{ account.name }}: {{ response.score }}"
    text: "{{ response.comment }}"
rules:
  - name: all
    actions: [followup, ticket, health, mail]
"""
RULESET = parse_rules(RULES, "templates.yaml")
FIELDS = {"score": 3, "contact.name": "Ann Lee", "account.name": "Acme", "comment": "Slow."}


def task(name: str, fields: dict[str, object], ruleset: Ruleset = RULESET) -> TaskPayload:
    payload = ruleset.render_action(name, fields)
    assert isinstance(payload, TaskPayload)
    return payload


def ticket(fields: dict[str, object]) -> TicketPayload:
    payload = RULESET.render_action("ticket", fields)
    assert isinstance(payload, TicketPayload)
    return payload


def test_task_payload_has_rendered_text_and_parsed_settings() -> None:
    payload = task("followup", FIELDS)
    assert payload.subject == "NPS 3 from Ann Lee"
    assert payload.description == "Ann Lee (Acme) answered 3.\nComment: Slow."
    assert payload.owner.kind == "user"
    assert payload.owner.user == "005000000000001AAA"
    assert payload.due_in.total_seconds() == 4 * 3600


def test_missing_values_render_as_empty_text() -> None:
    assert task("followup", {"score": 9}).description == " () answered 9.\nComment: "


def test_filters_work_and_default_can_cover_blank_values() -> None:
    payload = ticket({"account.name": "Acme"})
    assert (payload.subject, payload.body) == ("ACME", "(no comment)")


def test_subjects_are_single_line_even_when_data_has_newlines() -> None:
    payload = RULESET.render_action("mail", {**FIELDS, "account.name": "Acme\nCorp"})
    assert isinstance(payload, NotificationPayload)
    assert (payload.subject, payload.text, payload.to) == (
        "Acme Corp: 3",
        "Slow.",
        ("cx@example.com",),
    )


def test_update_values_render_text_and_keep_typed_values() -> None:
    payload = RULESET.render_action("health", FIELDS)
    assert isinstance(payload, FieldUpdatePayload)
    assert (payload.system, payload.object_type) == ("zendesk", "organization")
    assert dict(payload.values) == {
        "nps_comment": "Slow.",
        "nps_flag": True,
        "nps_score": 7,
    }


@pytest.mark.parametrize(
    "comment",
    ["{{ 7 * 7 }}", "{% for x in range(10) %}x{% endfor %}", "{{ ''.__class__ }}", "<b>hi</b>"],
)
def test_survey_text_is_data_never_a_template(comment: str) -> None:
    assert ticket({"comment": comment}).body == comment


def test_sandbox_refuses_internals_at_render_time() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        render("{{ value.__class__.__mro__ }}", {"value": "x"})


def test_undefined_names_fail_instead_of_rendering_blank() -> None:
    with pytest.raises(RenderError, match="'nope' is undefined"):
        render("Hello {{ nope }}", {})


def test_render_accepts_source_or_compiled_template() -> None:
    compiled = compile_template("{{ a }}-{{ b }}")
    assert isinstance(compiled, Template)
    assert render(compiled, {"a": 1, "b": None}) == "1-"
    assert render("{{ a }}", {"a": "x"}) == "x"


def test_runtime_failures_are_render_errors_for_that_response() -> None:
    ruleset = parse_rules(
        "version: 1\nactions:\n  t:\n    type: salesforce_task\n"
        "    subject: '{{ response.score * 2 }}'\n    due_in: 1d\n"
        "rules:\n  - name: all\n    actions: [t]\n",
        "r.yaml",
    )
    assert task("t", {"score": 4}, ruleset).subject == "8"
    with pytest.raises(RenderError):
        ruleset.render_action("t", {})


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ comment.format() }}", "KeyError raised while rendering"),
        ("{{ comment[1:].split()[0] | int(default=none) + comment.index('zz') }}",
         "ValueError raised while rendering"),
        ("{{ comment + 1 }}", 'can only concatenate str (not "int") to str'),
        ("{{ comment.nothing.deeper }}", "has no attribute 'nothing'"),
        ("{{ {'x': 1}[comment] }}", "a key taken from the data is undefined"),
        ("{{ {'x': 1}[comment.split()[1]] }}", "a key taken from the data is undefined"),
    ],
)  # fmt: skip
def test_a_failed_render_says_why_without_quoting_the_survey_text(source: str, reason: str) -> None:
    comment = "Ask {Margaret Thatcher-Smith, my CFO, 555-0199}"
    with pytest.raises(RenderError) as info:
        render(source, {"comment": comment})
    assert reason in str(info.value)
    assert "Margaret" not in str(info.value)


def test_template_context_nests_fields_like_templates_see_them() -> None:
    context = RULESET.template_context({"score": 3, "account.name": "Acme"})
    response, account = context["response"], context["account"]
    assert isinstance(response, dict)
    assert isinstance(account, dict)
    assert (response["score"], response["comment"], account["name"]) == (3, None, "Acme")


def test_custom_fields_are_available_to_templates() -> None:
    text = (
        "version: 1\nfields:\n  account.custom.Health_Score__c: number\nactions:\n"
        "  t:\n    type: salesforce_task\n"
        "    subject: 'Health {{ account.custom.Health_Score__c }}'\n    due_in: 1d\n"
        "rules: []\n"
    )
    ruleset = parse_rules(text, "r.yaml")
    assert task("t", {"account.custom.Health_Score__c": 41}, ruleset).subject == "Health 41"
    with pytest.raises(RulesError, match=r"unknown field 'account\.custom\.Health' in template"):
        parse_rules(text.replace("Health_Score__c }}", "Health }}"), "r.yaml")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ submitted_at }}", "unknown name 'submitted_at' in template; did you mean "
         "'response.submitted_at'?"),
        ("{{ tier }}", "unknown name 'tier' in template; did you mean 'account.tier'?"),
        ("{{ name }}", "unknown name 'name' in template; did you mean 'account.name' or "
         "'contact.name'?"),
        ("{{ acount.name }}", "unknown name 'acount' in template; did you mean 'account'?"),
        ("{{ nothing_like_it }}", "unknown name 'nothing_like_it' in template"),
    ],
)  # fmt: skip
def test_a_bare_field_name_suggests_its_namespace(source: str, message: str) -> None:
    tree = context_tree(BUILTIN_FIELDS.values())
    assert [problem.message for problem in check_references(source, tree)] == [message]


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        pytest.param("NPS {{ account.nps }}", {"account.nps"}, id="one field"),
        pytest.param(
            '{{ account["nps"] }} {{ response.score }}', {"account.nps", "score"}, id="an item"
        ),
        pytest.param("{% set a = account %}{{ a.nps }}", "account.*", id="a namespace used whole"),
        pytest.param("{{ account.name.upper() }}", {"account.name"}, id="a method of a value"),
        pytest.param("{% for t in response.themes %}{{ t }}{% endfor %}", {"themes"}, id="a loop"),
        pytest.param("{{ themes }}", set(), id="an unknown name"),
        pytest.param("{% set x = 1 %}{{ x }}", set(), id="a local name only"),
    ],
)
def test_the_fields_a_template_reads_are_known_before_it_renders(
    source: str, fields: set[str] | str
) -> None:
    specs = BUILTIN_FIELDS.values()
    found = referenced_fields(source, context_tree(specs))
    expected = (
        {s.name for s in specs if s.name.startswith("account.")}
        if isinstance(fields, str)
        else fields
    )
    assert found == expected
