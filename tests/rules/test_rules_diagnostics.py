"""Every invariant of the rules file has a small broken file and the exact message it must give."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import RulesError, parse_rules

TESTDATA = Path(__file__).parents[2] / "rules" / "testdata"

EXPECTED = {
    "action_listed_twice.yaml": "10:25: action 'followup' is listed twice",
    "bad_duration.yaml": "6:13: expected a duration like 30m, 4h, 2d or 1w, got '2 days'",
    "bad_regex.yaml": ("5:29: invalid regex 'refund(': missing ): refund("),
    "between_reversed.yaml": "5:29: 'between' takes a list [low, high]; low 8 is above high 3",
    "condition_list.yaml": (
        "6:7: a condition is a mapping, not a list; put several under `all:` or `any:`"
    ),
    "condition_two_keys.yaml": (
        "7:7: a condition has exactly one key, found 'score', 'account.tier'; list them under "
        "`all:` (every one must hold) or `any:` (one is enough)"
    ),
    "cooldown_unknown_field.yaml": "6:21: unknown field 'acount.id'; did you mean 'account.id'?",
    "custom_field_name.yaml": (
        "3:3: custom field 'Health_Score__c' must be named account.custom.<Name>, "
        "contact.custom.<Name> or response.custom.<Name>, the name of letters, digits and "
        "underscores, starting with a letter"
    ),
    "duplicate_rule_name.yaml": "7:11: duplicate rule name 'detractors' (first used at line 4)",
    "duplicate_yaml_key.yaml": "6:5: duplicate key 'name' (the mapping starts at line 4)",
    "email_without_recipients.yaml": (
        "4:5: email notifications need `to:` with at least one address"
    ),
    "empty_file.yaml": (
        "1:1: the file is empty; a rules file needs `version`, `actions` and `rules`"
    ),
    "empty_when.yaml": (
        "6:5: `when:` is empty; remove it to match every response, or add a condition"
    ),
    "escalation_without_actions.yaml": "12:5: escalate needs actions to follow up on",
    "expect_skip_cooldown.yaml": (
        "11:19: 'cooldown' skips are always expected (the rule asks for them); remove it"
    ),
    "expect_skip_creates_requester.yaml": (
        "8:19: this action creates the requester (`create_requester: true`), so it is never "
        "skipped for 'no_requester'; it can be skipped for 'template_failed'"
    ),
    "expect_skip_owner_kind.yaml": (
        "8:19: a Task owned by user:cx-manager@acme.example is never skipped for 'no_owner' (a "
        "`user:` owner that cannot be resolved is 'owner_not_found'); it can be skipped for "
        "'owner_not_found' or 'template_failed'"
    ),
    "expect_skip_rule_reason.yaml": (
        "10:19: no action of rule 'detractors' is ever skipped for 'no_record_to_update'; they "
        "can be skipped for 'no_owner' or 'template_failed'"
    ),
    "expect_skip_unknown_reason.yaml": (
        "7:19: unknown skip reason 'no_requestor'; expected one of no_owner, owner_not_found, "
        "no_requester, group_not_found, no_record_to_update, template_failed, cooldown; did you "
        "mean 'no_requester'?"
    ),
    "expect_skip_wrong_action_type.yaml": (
        "7:19: 'no_requester' is a skip of 'zendesk_ticket' actions; it can be skipped for "
        "'no_owner' or 'template_failed'"
    ),
    "group_typo.yaml": (
        "6:7: 'anny' is followed by conditions, which only `all:`, `any:` and `not:` take; "
        "did you mean 'any'?"
    ),
    "invalid_category.yaml": (
        "5:22: 'detractors' is not a valid category; expected 'promoter', 'passive' or "
        "'detractor'; did you mean 'detractor'?"
    ),
    "missing_rule_actions.yaml": "3:5: missing required key 'actions'",
    "null_operand.yaml": (
        "5:26: no value to compare 'account.tier' with; write `account.tier: {present: false}` "
        "to test that it is missing"
    ),
    "number_for_text_field.yaml": (
        "5:28: field 'account.region' is text; write the value in quotes: '1'"
    ),
    "operator_wrong_type.yaml": (
        "5:20: operator 'contains' does not apply to integer field 'score'; use one of: "
        "eq, ne, lt, lte, gt, gte, in, not_in, between, present"
    ),
    "regex_lookbehind.yaml": (
        "5:29: invalid regex '(?<!not )happy': invalid perl operator: (?<!; lookbehind is not "
        "supported: rules use a linear-time regex engine (RE2), rewrite the pattern without it"
    ),
    "rule_after_catch_all.yaml": (
        "6:11: rule 'promoters' can never match: the catch-all rule 'default' at line 4 matches "
        "every response first; move it last or give it `continue: true`"
    ),
    "score_out_of_range.yaml": "5:25: field 'score' is between 0 and 10; 60 is out of range",
    "template_macro.yaml": "7:7: macros are not supported in action templates",
    "template_nested_loops.yaml": (
        "5:14: template fails on a 32,000-character comment: "
        "template loops ran more than 10,000 times"
    ),
    "template_sandbox_escape.yaml": (
        "5:14: template fails on sample values: "
        "access to attribute '__class__' of 'str' object is unsafe."
    ),
    "template_syntax.yaml": (
        "5:14: template syntax error: unexpected end of template, "
        "expected 'end of print statement'."
    ),
    "template_typo.yaml": "8:19: unknown name 'acount' in template; did you mean 'account'?",
    "template_unknown_filter.yaml": "5:14: template syntax error: No filter named 'shout'.",
    "text_for_boolean_field.yaml": "5:29: field 'matched.zendesk' is true or false, not 'yes'",
    "text_for_flag.yaml": "6:15: expected true or false, got 'yes'",
    "undefined_action.yaml": (
        "10:15: rule 'detractors' uses undefined action 'owner_folowup'; "
        "did you mean 'owner_followup'?"
    ),
    "undefined_escalation_action.yaml": "11:30: rule 'x' uses undefined action 'slack'",
    "unknown_action_type.yaml": (
        "4:11: unknown action type 'zendesk_tiket'; expected salesforce_task, zendesk_ticket, "
        "update_fields, notify or resurvey; did you mean 'zendesk_ticket'?"
    ),
    "unknown_field.yaml": "8:11: unknown field 'acount.tier'; did you mean 'account.tier'?",
    "unknown_key.yaml": (
        "5:5: unknown key 'subjct' in salesforce_task action; did you mean 'subject'?"
    ),
    "unknown_operator.yaml": "5:20: unknown operator 'lt_e'; did you mean 'lte'?",
    "unknown_top_level_key.yaml": (
        "2:1: unknown key 'action' in rules file; did you mean 'actions'?"
    ),
    "unsupported_version.yaml": "1:10: unsupported version 2; this nps-sync reads version 1",
    "update_wrong_object.yaml": (
        "6:13: salesforce records that can be updated are 'Account' or 'Contact', "
        "not 'account'; did you mean 'Account'?"
    ),
    "webhook_url_in_file.yaml": (
        "6:18: webhook_env names the environment variable that holds the URL; "
        "never put the URL itself in the rules file"
    ),
    "wrong_priority_case.yaml": (
        "7:15: expected 'High', 'Normal' or 'Low', got 'high'; did you mean 'High'?"
    ),
    "wrong_value_type.yaml": "5:25: field 'score' is a whole number, not 'six'",
    "yaml_syntax.yaml": "6:5: invalid YAML: expected ',' or '}', but got '<scalar>'",
    "zendesk_tag_with_space.yaml": (
        "7:17: Zendesk tags are lower case without spaces (Zendesk would change "
        "'VIP Customer'); write 'vip_customer'"
    ),
}


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_broken_file_reports_exact_diagnostic(name: str, expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules((TESTDATA / name).read_text(encoding="utf-8"), name)
    assert str(caught.value) == f"{name}:{expected}"


def test_every_broken_file_has_an_expectation() -> None:
    on_disk = {path.name for path in TESTDATA.glob("*.yaml")} - {"several_problems.yaml"}
    assert on_disk == set(EXPECTED)


def test_all_problems_of_a_stage_are_reported_together_in_file_order() -> None:
    name = "several_problems.yaml"
    with pytest.raises(RulesError) as caught:
        parse_rules((TESTDATA / name).read_text(encoding="utf-8"), name)
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{name}:5:23: unknown field 'contact.nmae' in template; did you mean 'contact.name'?",
        f"{name}:10:15: rule 'detractors' uses undefined action 'folowup'; "
        "did you mean 'followup'?",
        f"{name}:12:12: unknown field 'account.teir'; did you mean 'account.tier'?",
    ]


def test_diagnostics_carry_structured_positions() -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules((TESTDATA / "unknown_key.yaml").read_text(encoding="utf-8"), "rules.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.col) == ("rules.yaml", 5, 5)


def test_template_error_inside_a_block_points_at_its_line() -> None:
    text = (
        "version: 1\n"
        "actions:\n"
        "  t:\n"
        "    type: zendesk_ticket\n"
        "    subject: Hello\n"
        "    body: |\n"
        "      First line\n"
        "      {% if response.score %}\n"
        "      Dear {{ contact.nam }}\n"
        "      {% endif %}\n"
        "rules: []\n"
    )
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "r.yaml")
    assert str(caught.value) == (
        "r.yaml:9:15: unknown field 'contact.nam' in template; did you mean 'contact.name'?"
    )


UNDECLARED = """version: 1
actions:
  a:
    type: salesforce_task
    owner: account_owner
    subject: "{{ contact.custom.Persona__c }}"
    due_in: 1d
rules:
  - name: r
    when: {account.custom.Employees: {gt: 5}}
    actions: [a]
"""


def test_an_undeclared_custom_field_says_where_to_declare_it() -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(UNDECLARED, "rules.yaml")
    assert str(caught.value).splitlines() == [
        "rules.yaml:6:18: unknown field 'contact.custom' in template: declare custom fields "
        "under fields: with their type (contact.custom.<Name>: string)",
        "rules.yaml:10:12: unknown field 'account.custom.Employees': declare it under fields: "
        "with its type (account.custom.Employees: string)",
    ]
