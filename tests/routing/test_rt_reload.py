"""Hot reload: a valid new rules file replaces the rules in force; an invalid one does not."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from rules import EXAMPLES_DIR, RulesError, load_rules
from sync.app.reload import RulesHolder

DEFAULT = (EXAMPLES_DIR / "default.yaml").read_text(encoding="utf-8")


def write(path: Path, text: str, *, tick: int) -> None:
    """Write and move the mtime forward, as a real edit a moment later would."""
    path.write_text(text, encoding="utf-8")
    stamp = 1_700_000_000 + tick
    os.utime(path, (stamp, stamp))


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    write(path, DEFAULT, tick=0)
    return path


def test_an_unchanged_file_is_not_reloaded(rules_file: Path) -> None:
    holder = RulesHolder.load(rules_file)
    assert holder.refresh() is False
    write(rules_file, DEFAULT + "\n# only a comment\n", tick=1)
    assert holder.refresh() is False  # same rules, same hash
    assert holder.current.hash == load_rules(EXAMPLES_DIR / "default.yaml").hash


def test_a_valid_change_is_swapped_in(rules_file: Path) -> None:
    holder = RulesHolder.load(rules_file)
    before = holder.current
    write(rules_file, DEFAULT.replace("due_in: 5d", "due_in: 2d"), tick=1)
    assert holder.refresh() is True
    assert holder.current.hash != before.hash
    assert holder.current.hash == load_rules(rules_file).hash
    assert holder.refresh() is False


def test_an_invalid_change_keeps_the_last_good_rules(
    rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = RulesHolder.load(rules_file)
    good = holder.current
    write(rules_file, DEFAULT.replace("category: promoter", "category: promoters"), tick=1)
    with caplog.at_level(logging.ERROR, logger="sync.app.reload"):
        assert holder.refresh() is False
        assert holder.refresh() is False  # logged once, not on every pass
    assert holder.current is good
    assert holder.last_error is not None
    assert "'promoters'" in holder.last_error
    assert len(caplog.records) == 1
    assert f"keeping rules {good.hash[:12]}" in caplog.records[0].getMessage()

    write(rules_file, DEFAULT.replace("due_in: 7d", "due_in: 3d"), tick=2)
    assert holder.refresh() is True
    assert holder.last_error is None


def test_a_vanished_file_keeps_the_rules(rules_file: Path) -> None:
    holder = RulesHolder.load(rules_file)
    good = holder.current
    rules_file.unlink()
    assert holder.refresh() is False
    assert holder.current is good


def test_fixed_rules_never_reload() -> None:
    holder = RulesHolder.fixed(load_rules(EXAMPLES_DIR / "default.yaml"))
    assert holder.refresh() is False


def test_loading_an_invalid_file_at_start_fails(rules_file: Path) -> None:
    write(rules_file, "version: 2\n", tick=1)
    with pytest.raises(RulesError):
        RulesHolder.load(rules_file)
