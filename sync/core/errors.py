"""Errors of the engine itself, beside the connectors' tiers in :mod:`connectors.errors`."""

from __future__ import annotations


class SyncError(Exception):
    """Root of the engine's own errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigFileError(SyncError):
    """The configuration file is unreadable or invalid; the message names file:line:col."""

    exit_code = 2
