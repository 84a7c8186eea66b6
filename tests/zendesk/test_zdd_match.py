"""Organization matching from the configured sources, and start-up name resolution."""

from __future__ import annotations

import json

import pytest

from connectors.errors import ConfigError, RetryableError
from connectors.models import Account, Contact, ZendeskUser
from connectors.zendesk.client import ZendeskConnector
from emulators.base import Fault
from emulators.zendesk import ZendeskEmulator
from rules import Ruleset, parse_rules
from sync.core.config import OrganizationSource, ZendeskConfig
from sync.stages.match_record import Match
from sync.stages.match_zendesk import (
    OrganizationResolver,
    Requester,
    ZendeskNames,
    match_organizations,
    names_wanted,
    resolve_names,
)
from tests.zendesk.conftest import ACME_ACCOUNT, ACME_ORG, FAST_RETRY, GLOBEX_ACCOUNT, GLOBEX_ORG

DOMAIN_ORG = 7777


@pytest.mark.parametrize(
    ("sources", "requester", "expected"),
    [
        # The user's own organization first, when it has one.
        (
            ("user", "external_id"),
            Requester("x@acme.example", GLOBEX_ORG, ACME_ACCOUNT),
            GLOBEX_ORG,
        ),
        # The Salesforce account's mirror when the user belongs to none.
        (("user", "external_id"), Requester("x@acme.example", None, ACME_ACCOUNT), ACME_ORG),
        # The mirror first when configured so.
        (("external_id", "user"), Requester("x@acme.example", GLOBEX_ORG, ACME_ACCOUNT), ACME_ORG),
        # The domain mapping when nothing else answers.
        (("user", "external_id", "domain"), Requester("x@mapped.example", None, None), DOMAIN_ORG),
        (
            ("user", "external_id", "domain"),
            Requester("x@MAPPED.example", None, "001x"),
            DOMAIN_ORG,
        ),
        # Nothing: None.
        (("user", "external_id"), Requester("x@acme.example", None, "001unknown"), None),
        (("domain",), Requester("x@acme.example", ACME_ORG, ACME_ACCOUNT), None),
    ],
)
def test_the_first_source_that_answers_wins(
    desk: ZendeskConnector,
    sources: tuple[OrganizationSource, ...],
    requester: Requester,
    expected: int | None,
) -> None:
    resolver = OrganizationResolver(desk, sources, {"mapped.example": DOMAIN_ORG}, FAST_RETRY)
    assert resolver.resolve([requester]) == [expected]


def test_mirrors_are_looked_up_in_one_request_and_only_when_needed(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    resolver = OrganizationResolver(desk, ("user", "external_id"), {}, FAST_RETRY)
    emulator.reset_counters()
    assert resolver.resolve([Requester("a@x.example", ACME_ORG, ACME_ACCOUNT)]) == [ACME_ORG]
    assert emulator.total_calls() == 0

    accounts, orgs = (ACME_ACCOUNT, GLOBEX_ACCOUNT), (ACME_ORG, GLOBEX_ORG)
    many = [Requester(f"p{i}@x.example", None, accounts[i % 2]) for i in range(150)]
    assert resolver.resolve(many) == [orgs[i % 2] for i in range(150)]
    assert dict(emulator.calls) == {"organizations_show_many": 1}


def test_match_organizations_fills_in_but_never_clears(desk: ZendeskConnector) -> None:
    account = Account(ACME_ACCOUNT, "Acme Corp")
    contact = Contact("003x", "a@x.example", account=account)
    without = Match("matched", "email", contact, account, ZendeskUser(1, "a@x.example"))
    other = Match("matched", "email", None, None, ZendeskUser(2, "b@x.example", "", GLOBEX_ORG))
    nobody = Match("unmatched", "none")
    resolver = OrganizationResolver(desk, ("external_id",), {}, FAST_RETRY)

    result = match_organizations({"a": without, "b": other, "c": nobody}, resolver)

    assert result["a"].zendesk_user is not None
    assert result["a"].zendesk_user.organization_id == ACME_ORG
    assert result["b"] == other  # no account to mirror: the user's organization stays
    assert result["c"] == nobody


@pytest.mark.parametrize("wait_when_down", [False, True])
def test_an_organization_lookup_zendesk_does_not_answer_raises_or_waits(
    emulator: ZendeskEmulator, desk: ZendeskConnector, wait_when_down: bool
) -> None:
    """Routing on a mirror Zendesk cannot refresh waits for the responses whose organization
    must be asked for; the users with an organization of their own go on."""
    account = Account(ACME_ACCOUNT, "Acme Corp")
    contact = Contact("003x", "a@x.example", account=account)
    asks = Match("matched", "email", contact, account, ZendeskUser(1, "a@x.example"))
    own = Match("matched", "email", contact, account, ZendeskUser(2, "b@x.example", "", ACME_ORG))
    resolver = OrganizationResolver(
        desk, ("user", "external_id"), {}, FAST_RETRY, wait_when_down=wait_when_down
    )
    emulator.inject(Fault("503", rate=1.0))

    if not wait_when_down:
        with pytest.raises(RetryableError):
            match_organizations({"a": asks, "b": own}, resolver)
        return
    result = match_organizations({"a": asks, "b": own}, resolver)
    assert result["a"].status == "unanswered"
    assert "zendesk organization not answered" in result["a"].detail
    assert result["b"] == own


def test_names_are_resolved_once_and_unknown_ones_listed(
    emulator: ZendeskEmulator, desk: ZendeskConnector
) -> None:
    emulator.add_api_token("lead@acme.example", "x")
    names = resolve_names(
        desk,
        field_titles={"score": "NPS Score", "account_arr": "Account ARR"},
        domains={"acme.example": "Acme Corp", "initech.example": "Initech"},
        groups={"Customer Success", "Escalations"},
        assignees={"LEAD@acme.example", "ana@acme.example"},
        retry=FAST_RETRY,
    )

    assert set(names.groups) == {"Customer Success"}
    assert set(names.agents) == {"lead@acme.example"}
    assert names.ticket_fields == {"score": emulator.ticket_field_id("NPS Score")}
    assert names.missing_fields == ("Account ARR",)
    assert names.domain_organizations == {"acme.example": ACME_ORG}
    assert sorted(names.missing) == [
        "assignee 'ana@acme.example' is not an agent",
        "group 'Escalations' does not exist",
        "organization 'Initech' (for domain initech.example) does not exist",
    ]
    with pytest.raises(ConfigError, match="Escalations"):
        names.raise_if_missing()


def _rules(group: str, assignee: str) -> Ruleset:
    return parse_rules(
        f"""version: 1
actions:
  ticket:
    type: zendesk_ticket
    subject: "NPS {{{{ response.score }}}}"
    body: "{{{{ response.comment }}}}"
    group: {group}
    assignee: {assignee}
rules:
  - name: all
    actions: [ticket]
""",
        "rules.yaml",
    )


def _zendesk(score_field: str = "NPS score", domain: str = "acme.example") -> ZendeskConfig:
    return ZendeskConfig.model_validate(
        {
            "subdomain": "acme",
            "fields": {"ticket_score": score_field},
            "matching": {"organization_domains": {domain: "Acme"}},
        }
    )


BASE = names_wanted(_zendesk(), _rules("Support", "lead@acme.example"))


@pytest.mark.parametrize(
    ("config", "rules", "same"),
    [
        (_zendesk(), _rules("Support", "lead@acme.example"), True),
        # an address and a domain are names in any case
        (_zendesk(domain="ACME.example"), _rules("Support", "Lead@ACME.example"), True),
        (_zendesk(), _rules("Escalations", "lead@acme.example"), False),
        (_zendesk(), _rules("Support", "other@acme.example"), False),
        (_zendesk(score_field="Score"), _rules("Support", "lead@acme.example"), False),
        (_zendesk(domain="globex.example"), _rules("Support", "lead@acme.example"), False),
    ],
)
def test_ids_kept_for_some_names_are_never_taken_for_others(
    config: ZendeskConfig, rules: Ruleset, same: bool
) -> None:
    """While Zendesk is down a pass routes with the ids last resolved for the same names: a
    group renamed in the rules meanwhile finds none, and its responses wait for Zendesk."""
    assert (names_wanted(config, rules) == BASE) is same


def test_kept_ids_read_back_as_resolved_and_anything_else_as_none() -> None:
    names = ZendeskNames(
        groups={"Support": 11},
        agents={"lead@acme.example": 12},
        ticket_fields={"score": 13},
        domain_organizations={"acme.example": 14},
        missing_fields=("NPS link",),
    )
    assert ZendeskNames.from_json(json.loads(json.dumps(names.to_json()))) == names
    assert ZendeskNames.from_json({"groups": {"Support": "x"}}) is None
