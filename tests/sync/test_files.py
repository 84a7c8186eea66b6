"""Files written by the commands are whole or absent: a failure keeps the previous file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync.core.files import copy_whole, replaced_on_success, write_text_whole


def test_a_complete_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("last month", encoding="utf-8")
    write_text_whole(target, "this month")
    assert target.read_text(encoding="utf-8") == "this month"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_part(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text('{"id": 1}\n', encoding="utf-8")

    def write_half() -> None:
        with replaced_on_success(target) as handle:
            handle.write('{"id": 2}\n')
            raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        write_half()
    assert target.read_text(encoding="utf-8") == '{"id": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_a_relative_path_is_written_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_text_whole(Path("plain.txt"), "x")
    assert (tmp_path / "plain.txt").read_text(encoding="utf-8") == "x"


def test_a_copy_from_a_scratch_folder_replaces_the_file_whole(tmp_path: Path) -> None:
    scratch, target = tmp_path / "scratch.pdf", tmp_path / "out" / "report.pdf"
    target.parent.mkdir()
    target.write_bytes(b"%PDF old")
    scratch.write_bytes(b"%PDF new\x00\xff")
    copy_whole(scratch, target)
    assert target.read_bytes() == b"%PDF new\x00\xff"
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]


def test_a_new_file_gets_the_usual_permissions_and_a_replaced_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    import os
    import stat

    umask = os.umask(0o022)
    try:
        fresh, kept = tmp_path / "new.html", tmp_path / "kept.html"
        kept.write_text("old", encoding="utf-8")
        kept.chmod(0o640)
        write_text_whole(fresh, "x")
        write_text_whole(kept, "y")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


WRITER = """
import sys, time
from pathlib import Path
from sync.core.files import replaced_on_success
with replaced_on_success(Path(sys.argv[1])) as handle:
    handle.write("half")
    print("writing", flush=True)
    time.sleep(30)
"""


def test_a_write_stopped_by_sigterm_keeps_the_previous_file_and_leaves_no_part(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous", encoding="utf-8")
    with subprocess.Popen(  # noqa: S603 - this interpreter, a script of this test
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=20) == 128 + signal.SIGTERM
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_a_complete_write_removes_the_parts_a_killed_write_left(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    stale, fresh = tmp_path / ".out.jsonl.ab12.part", tmp_path / ".out.jsonl.cd34.part"
    other = tmp_path / ".other.jsonl.ef56.part"
    for part in (stale, fresh, other):
        part.write_text("x", encoding="utf-8")
    long_ago = time.time() - 3600
    for part in (stale, other):
        os.utime(part, (long_ago, long_ago))

    write_text_whole(target, "whole")

    assert target.read_text(encoding="utf-8") == "whole"
    assert not stale.exists()
    assert fresh.exists()  # may be another write still going on
    assert other.exists()  # another file's


def test_a_link_is_followed_and_its_target_replaced(tmp_path: Path) -> None:
    real, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    real.write_text("old\n", encoding="utf-8")
    link.symlink_to(real)
    write_text_whole(link, "new\n")
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "new\n"


def test_a_pipe_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)  # noqa: S603, S607
    write_text_whole(fifo, "through the pipe\n")
    out, _ = reader.communicate(timeout=10)
    assert out == b"through the pipe\n"
    assert fifo.is_fifo()


@pytest.mark.parametrize(
    ("where", "reason"),
    [("missing/out.jsonl", "No such file or directory"), ("/dev/full", "No space left")],
)
def test_a_path_that_cannot_be_written_is_a_clear_error_with_exit_code_2(
    tmp_path: Path, where: str, reason: str
) -> None:
    from sync.core.errors import exit_code
    from sync.core.files import OutputFileError

    target = tmp_path / where if not where.startswith("/") else Path(where)
    with pytest.raises(OutputFileError, match=f"cannot write {target}: {reason}") as caught:
        write_text_whole(target, "x" * 100_000)
    assert exit_code(caught.value) == 2
    assert Path("/dev/full").is_char_device()


@pytest.mark.parametrize("kind", ["pipe", "device", "huge"])
def test_a_config_or_secret_that_cannot_be_one_is_refused_without_being_read(
    tmp_path: Path, kind: str
) -> None:
    """``status -c`` on a pipe waited for a writer forever, on /dev/zero grew to 12 GB."""
    from click.testing import CliRunner

    from sync.cli import main
    from sync.core.config.secrets import Secret
    from sync.core.errors import ConfigFileError

    path = tmp_path / "nps-sync.yaml"
    if kind == "pipe":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        with path.open("wb") as handle:
            handle.truncate(9 * 1024 * 1024)
    reason = "larger than" if kind == "huge" else "not a regular file"

    started = time.monotonic()
    result = CliRunner().invoke(main, ["status", "-c", str(path)])
    assert result.exit_code == 2
    assert f"{path}: cannot read config: {reason}" in result.stderr
    with pytest.raises(ConfigFileError, match=reason if kind != "huge" else "larger than 64 KiB"):
        Secret(file=path).resolve("salesforce.auth.password")
    assert time.monotonic() - started < 5
