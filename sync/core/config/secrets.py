"""Secrets in the config file: where to read them, never the values themselves.

A secret is written ``{env: NAME}`` or ``{file: PATH}``; it is read only when a connector is built
(:mod:`sync.app.runtime`). A value written in the file itself is refused at load, with the fix; so
is a reference written as text (``${NAME}``, ``env:NAME``), which nothing would expand.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

from pydantic import model_validator

from sync.core.config.base import Issue, Section, invalid
from sync.core.errors import ConfigFileError
from sync.core.files import UnreadableFileError, read_file_bytes

#: The fix every misplaced secret is told about.
ENV_OR_FILE = "use {env: NAME} or {file: PATH}"
#: Largest secret file read: far above a private key, far below an accidental log file.
MAX_SECRET_FILE = 64 * 1024
#: Text that names a secret the way shells, .env files or other tools do (``${NAME}``, ``$NAME``,
#: ``%NAME%``, ``env:NAME``, ``file:PATH``, ``"{env: NAME}"`` in quotes): none of it is expanded.
REFERENCE_AS_TEXT = re.compile(
    r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_][A-Za-z0-9_]*%|(?i:(env|file))\s*:\s*\S.*"
    r"|\{\s*(?i:(env|file))\s*:.*\}",
)


class Secret(Section):
    """Where to read a secret: an environment variable, or a file read whole (up to 64 KiB) with
    surrounding whitespace stripped, so a trailing newline does not count and a multi-line
    private key (JWT login) is kept as it is."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_in_the_file(cls, data: Any) -> Any:
        # The value is never echoed: it may be the secret itself.
        if isinstance(data, str) and REFERENCE_AS_TEXT.fullmatch(data.strip()):
            message = (
                "this reads like a reference to a secret written as text, which nps-sync "
                f"does not expand; {ENV_OR_FILE}, as a mapping (not in quotes)"
            )
            raise invalid([Issue((), message)])
        if isinstance(data, str | int | float):
            message = f"secrets are never written in the config file; {ENV_OR_FILE}"
            raise invalid([Issue((), message)])
        return data

    @model_validator(mode="after")
    def _one_place(self) -> Secret:
        if self.env and self.file:
            raise invalid([Issue((), "give either env or file, not both")])
        if not (self.env or self.file):
            raise invalid([Issue((), f"say where to read the secret: {ENV_OR_FILE}")])
        return self

    def resolve(self, what: str) -> str:
        """The secret's value; a missing variable or unreadable file is a config error."""
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigFileError(
                    f"{what}: environment variable {self.env} is not set",
                    fix=f"export {self.env} in the environment nps-sync runs in, or name another "
                    "variable or a file in the config",
                )
            return value
        if self.file:
            return self._read_file(what)
        raise ConfigFileError(f"{what}: give either env or file")

    def _read_file(self, what: str) -> str:
        assert self.file is not None
        try:
            raw = read_file_bytes(self.file, MAX_SECRET_FILE)  # a pipe is refused, not waited on
        except UnreadableFileError as exc:
            if exc.errno == errno.EFBIG:
                raise ConfigFileError(
                    f"{what}: {self.file} is larger than 64 KiB; is it the secret?"
                ) from None
            raise ConfigFileError(f"{what}: cannot read {self.file}: {exc.strerror}") from None
        except OSError as exc:
            raise ConfigFileError(
                f"{what}: cannot read {self.file}: {exc.strerror}",
                fix=f"create {self.file}, readable by this user, or name another file in the "
                "config",
            ) from exc
        try:
            value = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ConfigFileError(f"{what}: {self.file} is not UTF-8 text") from None
        if not value:
            raise ConfigFileError(f"{what}: {self.file} is empty")
        return value

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r}, file={str(self.file) if self.file else None!r})"
