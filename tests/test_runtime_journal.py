"""The commit journal: a commit cut short at any rename is completed by the next run.

The cut is made in this process: the staging module's ``os.replace`` raises
:class:`_Killed` (a ``BaseException``, so no rollback or clean-up handler of the commit runs,
as after a SIGKILL) at the chosen rename. The folder is then exactly what a killed run
leaves; :func:`journal.recover` (what the next run's lock does for a dead pid) must turn it
into the complete new set. The end-to-end version, with a real SIGKILL in a child process,
is ``test_outputs_safety.test_a_commit_killed_at_a_rename_is_completed_by_the_next_run``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.outputs import staging
from pipeline.runtime import journal
from pipeline.runtime.lock import RunLock

OUTPUTS = ("carbon_balance.csv", "zoning.csv", "run.json", "maps/zoning.png")
OLD = {name: f"old {name}\n" for name in OUTPUTS}
NEW = {name: f"new {name}\n" for name in OUTPUTS}
RENAMES = 2 * len(OUTPUTS)  # each output: the old file moved aside, the new one put in place


class _Killed(BaseException):
    """Stands for SIGKILL: nothing of the commit's own error handling runs."""


class _KillingOs:
    """``os`` with a ``replace`` that 'kills' the process at call ``kill_at``."""

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    def replace(self, source: Path, destination: Path) -> None:
        self.calls += 1
        if self.calls == self.kill_at:
            raise _Killed
        os.replace(source, destination)


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _killed_commit(root: Path, kill_at: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old outputs in ``root``, new ones staged, the commit killed at rename ``kill_at``."""
    for name, text in OLD.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    outputs = staging.StagedOutputs(root)
    for name, text in NEW.items():
        outputs.write_text(name, text)
    killing = _KillingOs(kill_at)
    monkeypatch.setattr(staging, "os", killing)
    with pytest.raises(_Killed):
        outputs.commit()
    monkeypatch.setattr(staging, "os", os)
    assert killing.calls == kill_at


@pytest.mark.parametrize("kill_at", range(1, RENAMES + 1))
def test_recovery_completes_a_commit_killed_at_any_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: int
) -> None:
    _killed_commit(tmp_path, kill_at, monkeypatch)
    left = _files(tmp_path)
    assert any(name.endswith(".journal") for name in left)  # the cut left it behind
    assert {name: left.get(name) for name in OUTPUTS} != NEW  # and a mixed or partial set
    assert journal.recover(tmp_path, os.getpid()) is True
    assert _files(tmp_path) == NEW  # the complete new set, nothing else (no .bak, .tmp)


def test_without_a_journal_nothing_is_recovered(tmp_path: Path) -> None:
    (tmp_path / "zoning.csv").write_text("old\n", encoding="utf-8")
    assert journal.recover(tmp_path, os.getpid()) is False
    assert _files(tmp_path) == {"zoning.csv": "old\n"}


def test_a_journal_killed_while_written_is_removed_and_nothing_renamed(tmp_path: Path) -> None:
    """Killed before the journal was whole: no rename had happened, the old set stays."""
    (tmp_path / "zoning.csv").write_text("old\n", encoding="utf-8")
    partial = journal.journal_path(tmp_path, os.getpid())
    partial.with_name(partial.name + ".tmp").write_text('{"renames": [["zon', encoding="utf-8")
    assert journal.recover(tmp_path, os.getpid()) is False
    assert _files(tmp_path) == {"zoning.csv": "old\n"}


@pytest.mark.parametrize("content", ["not json", '{"other": 1}', '{"renames": 5}'])
def test_an_unreadable_journal_is_not_followed(tmp_path: Path, content: str) -> None:
    (tmp_path / "zoning.csv").write_text("old\n", encoding="utf-8")
    journal.journal_path(tmp_path, os.getpid()).write_text(content, encoding="utf-8")
    assert journal.recover(tmp_path, os.getpid()) is False
    assert (tmp_path / "zoning.csv").read_text(encoding="utf-8") == "old\n"


def test_the_journal_lists_every_rename_relative_to_the_folder(tmp_path: Path) -> None:
    plan = [(tmp_path / "a.csv", tmp_path / ".a.csv.x.tmp", tmp_path / ".a.csv.1.bak")]
    path = journal.write_journal(tmp_path, plan)
    assert path == journal.journal_path(tmp_path, os.getpid())
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "renames": [["a.csv", ".a.csv.x.tmp", ".a.csv.1.bak"]]
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no .tmp left


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("kill_at", [1, RENAMES // 2, RENAMES])
def test_the_next_runs_lock_finishes_the_killed_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: int
) -> None:
    """Through :class:`RunLock`, as the next run meets it: a lock of a dead pid and that
    pid's journal; the lock is taken over with a note and the new set is complete."""
    processed = tmp_path / "data" / "processed"
    processed.mkdir(parents=True)
    _killed_commit(tmp_path, kill_at, monkeypatch)
    dead = _dead_pid()
    os.replace(journal.journal_path(tmp_path, os.getpid()), journal.journal_path(tmp_path, dead))
    owner = {"pid": dead, "host": socket.gethostname(), "started": "2020-01-01T00:00:00+00:00"}
    (processed / ".lock").write_text(json.dumps(owner), encoding="utf-8")
    with RunLock(processed, tmp_path) as lock:
        assert f"note: finished the commit of the killed run (pid {dead})" in lock.notes
        files = _files(tmp_path)
    files.pop("data/processed/.lock")
    assert files == NEW
