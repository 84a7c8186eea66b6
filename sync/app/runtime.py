"""Wiring: build the connectors, sources and store that a config describes.

This is the only module that reads secrets (through :class:`sync.core.config.Secret`) and creates
HTTP sessions. Every session counts its requests per system in one :class:`CallCounter`, which the
run report shows as "API calls".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from connectors.salesforce.client import (
    AccountFieldNames,
    SalesforceConnector,
    SalesforceCredentials,
)
from connectors.surveys import (
    DelightedPeople,
    DelightedSource,
    FileSource,
    SurveySource,
    TypeformMapping,
    TypeformSource,
)
from connectors.transport import CallCounter, make_session
from connectors.zendesk.client import ZendeskConnector, ZendeskCredentials
from connectors.zendesk.client import connect as connect_zd
from sync import state
from sync.core.config import (
    AUTH_REQUIREMENTS,
    Config,
    DelightedSourceConfig,
    FileSourceConfig,
    Secret,
    TypeformSourceConfig,
)
from sync.core.errors import ConfigFileError
from sync.core.files import MAX_ADMIN_FILE, read_file_text
from sync.core.ports import CrmPort, HelpdeskPort, SurveyScheduler
from sync.state import StateStore
from sync.state.errors import StateFileError
from sync.state.files import sqlite_path

if TYPE_CHECKING:
    from insights.text.taxonomy import Taxonomy


def _secret(secret: Secret | None, what: str) -> str | None:
    return secret.resolve(what) if secret is not None else None


def salesforce_credentials(config: Config) -> SalesforceCredentials:
    sf = config.salesforce
    auth = sf.auth
    creds = SalesforceCredentials(
        instance_url=sf.instance_url,
        method=auth.method,
        api_version=sf.api_version,
        session_id=_secret(auth.session_id, "salesforce.auth.session_id"),
        username=auth.username,
        password=_secret(auth.password, "salesforce.auth.password"),
        security_token=_secret(auth.security_token, "salesforce.auth.security_token"),
        domain=auth.domain,
        consumer_key=_secret(auth.consumer_key, "salesforce.auth.consumer_key"),
        consumer_secret=_secret(auth.consumer_secret, "salesforce.auth.consumer_secret"),
        private_key=_secret(auth.private_key, "salesforce.auth.private_key"),
    )
    missing = [name for name in AUTH_REQUIREMENTS[auth.method] if not getattr(creds, name)]
    if missing:
        raise ConfigFileError(f"salesforce.auth: method {auth.method} needs {', '.join(missing)}")
    return creds


def build_salesforce(
    config: Config, counter: CallCounter, *, login_later: bool = False
) -> SalesforceConnector:
    """The Salesforce connector, logged in (``login_later``: or to log in at its first call
    while the login fails for now, so that a pass goes on with the other systems' work)."""
    session = make_session(
        config.loopback_routes,
        timeout=config.salesforce.timeout_seconds,
        counter=counter,
        label="salesforce",
    )
    f = config.salesforce.fields
    api = config.salesforce.api
    return SalesforceConnector.connect(
        salesforce_credentials(config),
        session=session,
        login_later=login_later,
        api_reserve=api.reserve,
        bulk_threshold=api.bulk_threshold,
        bulk_poll_seconds=api.bulk_poll_seconds,
        query_bulk_threshold=api.query_bulk_threshold,
        account_fields=AccountFieldNames(
            tier=f.account_tier,
            arr=f.account_arr,
            region=f.account_region,
            renewal_date=f.account_renewal_date,
            domain=f.account_domain,
            contact_role=f.contact_role,
        ),
        task_marker_field=f.task_marker,
    )


def build_zendesk(config: Config, counter: CallCounter) -> ZendeskConnector:
    zd = config.zendesk
    session = make_session(
        config.loopback_routes, timeout=zd.timeout_seconds, counter=counter, label="zendesk"
    )
    creds = ZendeskCredentials(
        subdomain=zd.subdomain,
        domain=zd.domain,
        email=zd.auth.email,
        token=_secret(zd.auth.token, "zendesk.auth.token"),
        oauth_token=_secret(zd.auth.oauth_token, "zendesk.auth.oauth_token"),
    )
    client = connect_zd(
        creds,
        session=session,
        wait_budget_seconds=zd.rate_limit.wait_budget_seconds,
        reserve_requests=zd.rate_limit.reserve_requests,
        timeout=zd.timeout_seconds,
    )
    return ZendeskConnector(
        client,
        context_headroom=zd.rate_limit.context_headroom,
        context_lists_per_minute=zd.rate_limit.context_lists_per_minute,
    )


def build_sources(config: Config, counter: CallCounter) -> list[SurveySource]:
    sources: list[SurveySource] = []
    for spec in config.sources:
        if isinstance(spec, DelightedSourceConfig):
            session = make_session(config.loopback_routes, counter=counter, label="delighted")
            sources.append(
                DelightedSource(
                    spec.api_key.resolve(f"sources.{spec.name}.api_key"),
                    base_url=spec.base_url,
                    session=session,
                    per_page=spec.per_page,
                    name=spec.name,
                    streams=spec.page_streams,
                )
            )
        elif isinstance(spec, TypeformSourceConfig):
            session = make_session(config.loopback_routes, counter=counter, label="typeform")
            sources.append(build_typeform(config, spec, session))
        else:
            sources.append(FileSource(spec.path, name=spec.name))
    return sources


def typeform_mapping(config: Config, spec: TypeformSourceConfig) -> TypeformMapping:
    """Where the form keeps the score, the comment and who answered; the CRM ids are stored
    under the property names the matching ladder reads."""
    hidden = spec.hidden
    matching = config.salesforce.matching
    roles = {
        hidden.salesforce_contact_id: matching.contact_id_property,
        hidden.salesforce_account_id: matching.account_id_property,
        hidden.zendesk_user_id: "Zendesk User Id",
        hidden.ticket_id: "Zendesk Ticket Id",
    }
    return TypeformMapping(
        form_id=spec.form_id,
        score_ref=spec.score_ref,
        comment_ref=spec.comment_ref,
        email_hidden=hidden.email,
        name_hidden=hidden.name,
        hidden_properties={name: prop for name, prop in roles.items() if name},
    )


def build_typeform(
    config: Config, spec: TypeformSourceConfig, session: requests.Session
) -> TypeformSource:
    return TypeformSource(
        spec.token.resolve(f"sources.{spec.name}.token"),
        mapping=typeform_mapping(config, spec),
        base_url=spec.base_url,
        session=session,
        page_size=spec.page_size,
        name=spec.name,
        lookback_seconds=spec.lookback_seconds,
    )


def require_source_files(config: Config) -> None:
    """Refuse to start a pass while a file source's file is missing: the command ends with exit
    code 2 and every missing file named, instead of a pass that reads nothing from it."""
    missing = [
        f"sources[{index}].path: {spec.path} does not exist; put the export there or fix the "
        "path (a relative path is read from the config file's folder)"
        for index, spec in enumerate(config.sources)
        if isinstance(spec, FileSourceConfig) and not spec.path.exists()
    ]
    if missing:
        raise ConfigFileError("\n".join(missing))


def require_taxonomy(config: Config) -> Taxonomy | None:
    """Refuse to start while the ``text:`` section's taxonomy is missing or wrong (exit code 2,
    ``file:line:col``), rather than after a pass has pulled, or at every poll of a daemon;
    the taxonomy, or None when comments are not analysed."""
    if not config.text.enabled or config.text.taxonomy is None:
        return None
    from insights.text.taxonomy import parse_taxonomy

    path = config.text.taxonomy
    try:
        text = read_file_text(path, MAX_ADMIN_FILE)
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigFileError(
            f"text.taxonomy: cannot read {path}: {why}; put the themes file there or fix the "
            "path (a relative path is read from the config file's folder)"
        ) from None
    return parse_taxonomy(text, str(path))


def require_context_templates(config: Config) -> None:
    """Refuse to start with a customer context template that fails on sample data (an undefined
    name, an attribute the sandbox refuses): it would leave the block out of every Task or
    ticket, with a warning each time."""
    from sync.stages.executors.task_context import task_context_problem
    from sync.stages.executors.zendesk_context import context_problem

    found = [
        (key, problem)
        for key, problem in (
            (
                "salesforce.tasks.context_template",
                task_context_problem(config.salesforce.tasks.context_template),
            ),
            (
                "zendesk.tickets.context_template",
                context_problem(config.zendesk.tickets.context_template),
            ),
        )
        if problem is not None
    ]
    if found:
        raise ConfigFileError(
            "\n".join(
                f"{key}: fails on sample values: {problem}; fix it, or leave the key out for "
                "the default block"
                for key, problem in found
            )
        )


def open_store(config: Config, *, existing: bool = False) -> StateStore:
    """The configured state store, its schema created or upgraded. ``existing``: a command that
    only reads it (``status``, the views) must not create an empty SQLite file where none is,
    which would hide a state file that is missing or was moved."""
    path = sqlite_path(config.state.url)
    if existing and path is not None and path.parent.is_dir() and not path.exists():
        raise StateFileError(
            f"there is no state database at {path}: nothing has run with this config yet, or "
            "state.url names another file (a relative path is read from the config's folder). "
            "nps-sync sync creates it."
        )
    return state.open_store(config.state.url)


def build_survey_schedulers(config: Config, counter: CallCounter) -> dict[str, SurveyScheduler]:
    """The sources that can survey a person again (Delighted's people API), by source name."""
    tools: dict[str, SurveyScheduler] = {}
    for spec in config.sources:
        if isinstance(spec, DelightedSourceConfig):
            session = make_session(config.loopback_routes, counter=counter, label="delighted")
            tools[spec.name] = DelightedPeople(
                spec.api_key.resolve(f"sources.{spec.name}.api_key"),
                base_url=spec.base_url,
                session=session,
                name=spec.name,
            )
    return tools


@dataclass
class Connections:
    """Live connections for one pass of the engine, typed by the ports the engine uses
    (:mod:`sync.core.ports`), so a test may hand it fakes of those ports."""

    crm: CrmPort
    helpdesk: HelpdeskPort
    sources: list[SurveySource]
    counter: CallCounter
    #: Sources that can survey a person again (``resurvey`` actions), by name.
    surveys: dict[str, SurveyScheduler] = field(default_factory=dict)


def connect_all(
    config: Config, counter: CallCounter | None = None, *, login_later: bool = False
) -> Connections:
    """Every system's connector (``login_later``: see :func:`build_salesforce`)."""
    counter = counter or CallCounter()
    return Connections(
        crm=build_salesforce(config, counter, login_later=login_later),
        helpdesk=build_zendesk(config, counter),
        sources=build_sources(config, counter),
        counter=counter,
        surveys=build_survey_schedulers(config, counter),
    )
