"""Errors of the engine itself, and the exit code of every error tier the CLI can end with.

Tiers, by what the person or script that ran the command should do:

- :class:`PartialFailureError` (1): the command ran to the end, but some of its work failed or
  its check found problems; the output lists them. Look at them, fix or retry.
- :class:`ConfigFileError` (2): the config file (or the rules file it names) is unreadable or
  invalid; nothing was done. Fix the file. Also click's own usage errors.
- connector :class:`~connectors.errors.ConfigError` (78, ``EX_CONFIG``): Salesforce or Zendesk
  refused the credentials, permissions or configured names. Fix the credentials or the org.
- :class:`UnavailableError`, connector :class:`~connectors.errors.RetryableError` and
  :class:`~connectors.errors.DeferError` (75, ``EX_TEMPFAIL``): a system is unreachable,
  overloaded or out of API quota. Run again later.

A :class:`~connectors.errors.DeferError` met during a pass (a rate limit, a spent API allowance)
does not end the pass: the engine parks the work it stopped and goes on with the rest. ``sync``
then exits 75 all the same (the work waits: run again later), 1 if anything actually failed.

:func:`exit_code` maps any of them (and a rules file error) to its code, in one table, and
:func:`fix_for` says what to do about it when the message does not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from connectors.errors import (
    ConfigError,
    ConnectorError,
    DeferError,
    RetryableError,
    UnknownFieldError,
)

if TYPE_CHECKING:
    from rules.errors import Diagnostic

#: Exit codes, one per tier (the last three follow BSD's sysexits.h).
EXIT_FAILED = 1
EXIT_CONFIG_FILE = 2
EXIT_TEMPORARY = 75
EXIT_REFUSED = 78


class SyncError(Exception):
    """Root of the engine's own errors. ``exit_code`` is what the CLI exits with; ``fix``, when
    given, is what to do about it (the CLI prints it below the message)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str = "", *, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix


class PartialFailureError(SyncError):
    """The command finished, but some of its work failed (already reported to the user)."""

    exit_code = EXIT_FAILED


class UnavailableError(SyncError):
    """A system was unreachable or refused work for now (rate limit, quota); run again later."""

    exit_code = EXIT_TEMPORARY


class ConfigFileError(SyncError):
    """The configuration file is unreadable or invalid; the message names file:line:col.

    ``diagnostics`` holds one ``file:line:col: message`` per problem when the file was parsed.
    """

    exit_code = EXIT_CONFIG_FILE

    def __init__(
        self, message: str = "", diagnostics: Iterable[Diagnostic] = (), *, fix: str = ""
    ) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(set(diagnostics)))
        super().__init__(message or "\n".join(str(d) for d in self.diagnostics), fix=fix)


#: Connector tiers -> exit code, most specific first.
CONNECTOR_EXIT_CODES: tuple[tuple[type[ConnectorError], int], ...] = (
    (ConfigError, EXIT_REFUSED),
    (RetryableError, EXIT_TEMPORARY),
    (DeferError, EXIT_TEMPORARY),
    (ConnectorError, EXIT_FAILED),
)


def exit_code(error: BaseException) -> int | None:
    """The exit code for ``error``'s tier; None for an error that is a bug (no tier)."""
    if isinstance(error, SyncError):
        return error.exit_code
    if _is_config_file_error(error):
        return EXIT_CONFIG_FILE
    for tier, code in CONNECTOR_EXIT_CODES:
        if isinstance(error, tier):
            return code
    return None


def _is_config_file_error(error: BaseException) -> bool:
    """A rules or taxonomy file error. Only modules already loaded can have raised one, so the
    check loads nothing: an error path must not import the text model's numpy and scikit-learn."""
    tiers = [
        getattr(sys.modules.get(module), name, None)
        for module, name in (
            ("rules.errors", "RulesError"),
            ("insights.text.errors", "TaxonomyError"),
        )
    ]
    return any(isinstance(tier, type) and isinstance(error, tier) for tier in tiers)


#: What to do about a connector error of each tier, most specific first ({system}: its system).
CONNECTOR_FIXES: tuple[tuple[type[ConnectorError], str], ...] = (
    (
        UnknownFieldError,
        "check the field's API name where it is given (the config's setting, or the command's "
        "option) and that the integration user's field access includes it",
    ),
    (
        ConfigError,
        "check the {system} settings and credentials in the config file (and the variables or "
        "files its secrets name); `nps-sync check -c CONFIG` lists each problem",
    ),
    (
        DeferError,
        "{system} refuses work for now (rate limit or daily API quota); run again later, "
        "`nps-sync run` waits by itself",
    ),
    (
        RetryableError,
        "check that this machine reaches the host named above (DNS, proxy, firewall) and that "
        "it is up, then run again; `nps-sync check -c CONFIG` tries every connection",
    ),
)


def fix_for(error: BaseException) -> str:
    """What the person who ran the command should do about ``error``; "" when its message says
    it already (a config file's diagnostics, a state file's recovery) or there is nothing to add.
    """
    explicit = getattr(error, "fix", "")
    if isinstance(explicit, str) and explicit:
        return explicit
    if isinstance(error, ConnectorError):
        for tier, text in CONNECTOR_FIXES:
            if isinstance(error, tier):
                return text.format(system=error.system or "the system")
    return ""
