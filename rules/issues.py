"""Problems found while validating a rules file, and the strict base model that reports them.

Validators raise :func:`invalid` with :class:`Issue` objects that carry *data paths* (such as
``("rules", 2, "when", "all", 0, "score", "lte")``) instead of positions; the loader, which owns
the YAML source map, turns them into ``file:line:col`` diagnostics. That keeps the models free of
YAML concerns and lets one validator report several problems at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from rules.errors import did_you_mean

Path = tuple[str | int, ...]
ISSUES_ERROR = "rules_invalid"
"""The pydantic error type whose ``ctx["issues"]`` holds :class:`Issue` objects."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem at a data path, relative to where pydantic raised it.

    ``where`` picks the key or the value; ``scalar_line`` is a line inside a multi-line string
    (templates); ``needle`` is text to point the column at; ``related`` is another path whose line
    replaces ``{related_line}`` in the message ("first used at line 12").
    """

    path: Path
    message: str
    where: Literal["key", "value"] = "value"
    scalar_line: int | None = None
    needle: str | None = None
    related: Path | None = None

    def under(self, prefix: Path) -> Issue:
        """The same issue with ``prefix`` before its paths."""
        related = (*prefix, *self.related) if self.related is not None else None
        return Issue(
            (*prefix, *self.path),
            self.message,
            self.where,
            self.scalar_line,
            self.needle,
            related,
        )


def invalid(issues: Iterable[Issue]) -> PydanticCustomError:
    """A validation error carrying ``issues`` (the loader expands them into diagnostics)."""
    found = tuple(issues)
    summary = "; ".join(issue.message for issue in found)
    return PydanticCustomError(ISSUES_ERROR, "{summary}", {"summary": summary, "issues": found})


class StrictModel(BaseModel):
    """Frozen, and unknown keys are errors that suggest the key that was probably meant."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    noun: ClassVar[str] = "mapping"

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = [info.alias or name for name, info in cls.model_fields.items()]
            unknown = [key for key in data if key not in allowed]
            if unknown:
                raise invalid(
                    Issue(
                        (key,),
                        f"unknown key {key!r} in {cls.noun}{did_you_mean(key, allowed)}",
                        "key",
                    )
                    for key in unknown
                )
        return data


def shown(value: Any) -> str:
    """A value as messages show it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, date):
        return f"the date {value.isoformat()} (quote it to write text)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return repr(value)
