"""What the note on a changed answer says (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync.stages.amend import NOTE_COMMENT_CHARS, Answer, amend_key, change_note

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
HEAD = "The customer changed their NPS answer on 2026-12-07 09:30 UTC:"


@pytest.mark.parametrize(
    ("before", "after", "lines"),
    [
        (Answer(3, ""), Answer(3, "Billing twice"), ["Comment (new): Billing twice"]),
        (Answer(3, "Slow"), Answer(3, "Slow and buggy"), ["Comment: Slow and buggy"]),
        (Answer(3, "Slow"), Answer(3, ""), ["Comment: removed by the customer"]),
        (Answer(3, "x"), Answer(9, "x"), ["Score: 3 -> 9 (now a promoter)"]),
        (Answer(8, ""), Answer(5, "No"), ["Score: 8 -> 5 (now a detractor)", "Comment (new): No"]),
        (Answer(3, "Same"), Answer(3, " Same "), None),  # nothing a person would see changed
    ],
)
def test_the_note_says_what_changed_and_nothing_else(
    before: Answer, after: Answer, lines: list[str] | None
) -> None:
    note = change_note(before, after, AT)
    assert note == (None if lines is None else "\n".join([HEAD, *lines]))


def test_a_long_new_comment_is_cut_so_the_task_keeps_its_context() -> None:
    note = change_note(Answer(2, ""), Answer(2, "x" * 30_000), AT)
    assert note is not None
    comment = note.splitlines()[1].removeprefix("Comment (new): ")
    assert len(comment) == NOTE_COMMENT_CHARS
    assert comment.endswith("\u2026")


def test_each_version_of_each_record_is_told_under_its_own_key() -> None:
    keys = {amend_key(k, v) for k in ("task", "ticket") for v in ("v1", "v2")}
    assert len(keys) == 4
    assert amend_key("task", "v1") == amend_key("task", "v1")
