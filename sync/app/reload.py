"""Hot reload of the rules file: a valid new version replaces the rules in force between passes.

:class:`RulesHolder` keeps the rules in force. :meth:`RulesHolder.refresh` (the engine calls it at
the start of every pass; the scheduler may call it more often) looks at the file's modification
time and size, and only when they changed reads it and compares its content hash. A changed file
is loaded and checked in full; if it is valid the new :class:`~rules.Ruleset` is swapped in with a
single reference assignment, so a pass never sees half of one and half of another. If it is
invalid, its diagnostics are logged once and the last good rules stay in force. Every action
records the hash of the ruleset that created it (``nps_actions.ruleset_hash``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from rules import RulesCheck, RulesError, Ruleset, load_rules
from sync.core.files import MAX_ADMIN_FILE, read_file_bytes

log = logging.getLogger(__name__)


class RulesHolder:
    """The rules in force, and the file they may be reloaded from."""

    def __init__(
        self, path: Path | None, ruleset: Ruleset, *, check: RulesCheck | None = None
    ) -> None:
        self.path = path
        self.check = check
        """Checked on every reload too (the rules against the config they run with)."""
        self._current = ruleset
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._seen_digest = self._digest() if path is not None else None
        self.last_error: str | None = None
        """Diagnostics of the newest file version when it was rejected; None once one loads."""
        self.verify: Callable[[Ruleset, Path], list[str]] | None = None
        """Checked on a reload once the file is valid: what the rules name in the connected
        systems (owners, groups, assignees), one line per problem. An error of a system here
        keeps the rules in force and tries the file again at the next refresh."""

    @classmethod
    def load(cls, path: Path, *, check: RulesCheck | None = None) -> RulesHolder:
        """Hold the rules of ``path``; raises :class:`rules.RulesError` if they are invalid."""
        return cls(path, load_rules(path, check=check), check=check)

    @classmethod
    def fixed(cls, ruleset: Ruleset) -> RulesHolder:
        """Rules that are never reloaded (tests, one-off runs)."""
        return cls(None, ruleset)

    @property
    def current(self) -> Ruleset:
        """The rules in force; read once per pass and use that value throughout."""
        return self._current

    def refresh(self) -> bool:
        """Reload the file if it changed; True when different rules are now in force."""
        if self.path is None:
            return False
        with self._lock:
            stamp = self._stat()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            digest = self._digest()
            if digest is None or digest == self._seen_digest:
                return False
            self._seen_digest = digest
            try:
                ruleset = load_rules(self.path, check=self.check)
            except RulesError as error:
                self.last_error = str(error)
                log.error(
                    "rules file %s changed but is invalid; keeping rules %s:\n%s",
                    self.path,
                    self._current.hash[:12],
                    error,
                )
                return False
            if ruleset.hash == self._current.hash:
                self.last_error = None
                return False
            if self.verify is not None:
                try:
                    problems = self.verify(ruleset, self.path)
                except Exception as error:  # a system unreachable for now: try again later
                    self._stamp = self._seen_digest = None
                    log.warning(
                        "rules file %s changed; checking what it names failed (%s); keeping "
                        "rules %s and trying again at the next pass",
                        self.path,
                        error,
                        self._current.hash[:12],
                    )
                    return False
                if problems:
                    self.last_error = "\n".join(problems)
                    log.error(
                        "rules file %s changed but names what does not exist; keeping rules "
                        "%s:\n%s",
                        self.path,
                        self._current.hash[:12],
                        self.last_error,
                    )
                    return False
            self.last_error = None
            log.warning(
                "rules reloaded from %s: %s -> %s (%d rules)",
                self.path,
                self._current.hash[:12],
                ruleset.hash[:12],
                len(ruleset.rules),
            )
            self._current = ruleset
            return True

    def _stat(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def _digest(self) -> str | None:
        assert self.path is not None
        try:
            return hashlib.sha256(read_file_bytes(self.path, MAX_ADMIN_FILE)).hexdigest()
        except OSError as error:
            log.error("cannot read rules file %s: %s; keeping the rules in force", self.path, error)
            return None
