"""``nps-sync check``: verify the Salesforce org and Zendesk account fit the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from sync.commands.output import JSON_OPTION
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from connectors.errors import ConnectorError
    from sync.checks import Finding
    from sync.core.config import Config


@click.command("check")
@CONFIG_OPTION
@JSON_OPTION
def check_command(config_path: Path, as_json: bool) -> None:
    """Connect, inspect every configured field, group and object, and say what to fix.

    Exits 1 when the configuration cannot work as it is (the errors in the table say why).
    """
    from connectors.errors import ConnectorError
    from connectors.transport import CallCounter
    from sync.app.runtime import build_salesforce, build_zendesk
    from sync.checks import Finding
    from sync.checks.salesforce import check_salesforce
    from sync.checks.sources import check_sources
    from sync.checks.zendesk import check_zendesk
    from sync.core.errors import ConfigFileError, PartialFailureError

    config = load(config_path)
    counter = CallCounter()

    def salesforce() -> list[Finding]:
        return check_salesforce(config, build_salesforce(config, counter))

    def zendesk() -> list[Finding]:
        return check_zendesk(config, build_zendesk(config, counter))

    findings = rules_findings(config) + taxonomy_findings(config)
    hosts = {
        "salesforce": urlsplit(config.salesforce.instance_url).hostname or "Salesforce",
        "zendesk": f"{config.zendesk.subdomain}.{config.zendesk.domain}",
    }
    for system, run in (("salesforce", salesforce), ("zendesk", zendesk)):
        try:
            findings.extend(run())
        except ConfigFileError as exc:
            fix = "set the variable or create the file the config names"
            findings.append(Finding(system, "credentials", "error", str(exc), fix))
        except ConnectorError as exc:
            findings.append(connection_finding(system, hosts[system], exc))
    findings.extend(check_sources(config, counter))
    findings.extend(_state_findings(config.state.url))
    if as_json:
        from sync.commands.documents import check_document
        from sync.commands.output import emit

        emit(check_document(findings))
    else:
        _print_findings(findings)
    if any(f.level == "error" for f in findings):
        raise PartialFailureError()


def _print_findings(findings: list[Finding]) -> None:
    from rich.console import Console
    from rich.text import Text

    from sync.app.tables import DataTable, figure_column, text_column

    table = DataTable(title="nps-sync check")
    text_column(table, "system")
    text_column(table, "item")
    figure_column(table, "result", justify="left")
    text_column(table, "details")
    text_column(table, "fix")
    style = {"ok": "green", "warning": "yellow", "error": "red"}
    for f in findings:
        table.add_row(f.system, f.item, Text(f.level, style=style[f.level]), f.message, f.fix)
    Console().print(table)


def connection_finding(system: str, host: str, error: ConnectorError) -> Finding:
    """A failed connection: the host, the cause and what to do about it."""
    from connectors.errors import ConfigError, DeferError
    from sync.checks import Finding, unusable

    if isinstance(error, ConfigError):
        fix = f"check the {system} credentials and login settings in the config"
        return Finding(system, f"connection to {host}", "error", f"{host} refused: {error}", fix)
    if isinstance(error, DeferError):
        fix = f"{host} refuses work for now (rate limit or API quota); run the check again later"
        return Finding(system, f"connection to {host}", "error", unusable(host, error), fix)
    fix = f"check that this machine reaches {host} (DNS, proxy, firewall), then run again"
    return Finding(system, f"connection to {host}", "error", unusable(host, error), fix)


def rules_findings(config: Config) -> list[Finding]:
    """The rules file in force, checked on its own and against the config it runs with."""
    from rules import RulesError, load_rules
    from sync.checks import Finding
    from sync.core.config.checks import rules_against

    try:
        ruleset = load_rules(config.rules, check=rules_against(config))
    except RulesError as error:
        return [Finding("nps-sync", "rules", "error", str(d)) for d in error.diagnostics]
    return [Finding("nps-sync", "rules", "ok", f"{len(ruleset.rules)} rules, {ruleset.hash[:12]}")]


def taxonomy_findings(config: Config) -> list[Finding]:
    """The theme taxonomy the ``text:`` section names, if comments are analysed: readable and
    valid, as ``sync`` and ``run`` require before they start."""
    from insights.text import TaxonomyError
    from sync.app.runtime import require_taxonomy
    from sync.checks import Finding
    from sync.core.errors import ConfigFileError

    try:
        taxonomy = require_taxonomy(config)
    except ConfigFileError as error:
        return [Finding("nps-sync", "taxonomy", "error", str(error))]
    except TaxonomyError as error:
        return [Finding("nps-sync", "taxonomy", "error", str(d)) for d in error.diagnostics]
    if taxonomy is None:  # comments are not analysed
        return []
    themes = f"{len(taxonomy.names)} themes in {config.text.taxonomy}"
    return [Finding("nps-sync", "taxonomy", "ok", themes)]


def _state_findings(url: str) -> list[Finding]:
    """The state database, checked without being changed: damage and a file mode too wide."""
    from sync.checks import Finding
    from sync.state.files import check

    found = check(url)
    findings = [Finding("state", found.where, "error", p) for p in found.problems]
    fix = "chmod 600 the state files"
    findings += [Finding("state", found.where, "warning", w, fix) for w in found.warnings]
    if not findings:
        findings.append(Finding("state", found.where, "ok", "; ".join(found.notes)))
    return findings
