"""One run per output folder, and clean interruption.

:class:`RunLock` holds ``data/processed/.lock`` (pid, host, start time) for the length of a
run: a second run on the same output folder refuses with a message naming the running one. A
lock left by a run that was killed (its pid no longer alive on this host) is taken over with
a note, and that run's temporary files are removed.

:func:`interrupts_as_keyboard_interrupt` turns SIGTERM into :class:`Terminated` (a
:class:`KeyboardInterrupt`), so ``kill`` unwinds the run like Ctrl-C does: staged outputs are
discarded, earlier outputs stay, the lock is released. :func:`deferred_interrupts` holds
SIGINT/SIGTERM back while the staged outputs are renamed, so a run never stops half-way
through replacing its outputs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from pipeline.errors import OutputError
from pipeline.runtime import journal

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
LOCK_ATTEMPTS = 50
UNREADABLE_GRACE_S = 5.0
"""An unreadable lock younger than this is being written by a starting run, not stale."""
TEMPORARY_GLOBS = (".*.{pid}.tmp", ".*.{pid}.tmp.*")
"""Temporary names of :class:`pipeline.outputs.staging.StagedOutputs` written by process ``pid``
(and files built beside them, such as a GeoPackage's ``.tmp.gpkg`` and its SQLite journal)."""
BACKUP_GLOB = ".*.{pid}.bak"
"""Earlier outputs moved aside by process ``pid`` while it renamed its outputs."""


class Terminated(KeyboardInterrupt):
    """The run received SIGTERM; handled like Ctrl-C."""


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock."""

    pid: int
    host: str
    started: str

    def describe(self) -> str:
        """``pid 123 on host 'x', started 2026-01-01T10:00:00+00:00``."""
        return f"pid {self.pid} on host {self.host!r}, started {self.started}"


def _pid_alive(pid: int) -> bool:
    """True when process ``pid`` runs on this host (a reused pid counts as alive)."""
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user
    except OSError:
        return False
    return True


def _started_after(pid: int, started: str, slack_s: float = 60.0) -> bool:
    """True when process ``pid`` started after the lock was taken: the pid was reused (e.g.
    after a reboot), so the lock is stale. Known on Linux only (from ``/proc``)."""
    try:
        locked_at = dt.datetime.fromisoformat(started).timestamp()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of proc(5): start time in clock ticks after boot
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    boot_s = dt.datetime.now(dt.UTC).timestamp() - uptime_s
    return boot_s + ticks / os.sysconf("SC_CLK_TCK") > locked_at + slack_s


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    process_query_limited_information, still_active = 0x1000, 259
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return False
    try:
        exit_code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(exit_code))
        return exit_code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _read_owner(path: Path) -> LockOwner | None:
    try:
        content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return LockOwner(int(content["pid"]), str(content["host"]), str(content["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class RunLock:
    """``with RunLock(processed_dir, output_dir):`` holds the folder's lock for one run.

    Raises
    ------
    OutputError
        When another live run holds the lock (or one on another host that cannot be checked).
    """

    def __init__(self, processed_dir: Path, output_dir: Path | None = None) -> None:
        self.path = processed_dir / LOCK_NAME
        self.output_dir = output_dir or processed_dir
        self.notes: list[str] = []
        self._created_folders: list[Path] = []
        self._me = LockOwner(
            os.getpid(), socket.gethostname(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        )

    def __enter__(self) -> RunLock:
        folder = self.path.parent
        self._created_folders = [d for d in (folder, *folder.parents) if not d.exists()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"{self.path.parent}: cannot create output folder ({error})"
            ) from None
        for _attempt in range(LOCK_ATTEMPTS):
            if self._try_create():
                return self
            self._handle_existing()
        raise OutputError(f"{self.path}: cannot take the lock (another run keeps taking it)")

    def __exit__(self, *exc: object) -> None:
        owner = _read_owner(self.path)
        if owner is not None and owner.pid == self._me.pid and owner.host == self._me.host:
            self.path.unlink(missing_ok=True)
        for folder in self._created_folders:  # deepest first; only if the run left them empty
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _try_create(self) -> bool:
        try:
            handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as error:
            raise OutputError(f"{self.path}: cannot create the lock file ({error})") from None
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(self._me.__dict__, stream)
        return True

    def _handle_existing(self) -> None:
        if self.path.is_dir() or self.path.is_symlink():
            raise OutputError(
                f"{self.path}: is a folder or link, not a lock file; delete it if no run is "
                "writing to this output folder, then run again"
            )
        owner = _read_owner(self.path)
        if owner is None:
            if _age_s(self.path) < UNREADABLE_GRACE_S:  # another run is writing it right now
                time.sleep(0.1)
                return
            self._take_over("an unreadable lock file (a run killed while starting)", None)
            return
        if owner.host != self._me.host:
            raise OutputError(
                f"{self.path}: the output folder is in use by a run on another host "
                f"({owner.describe()}); wait for it to finish, or delete the lock file if that "
                "run is gone"
            )
        if _pid_alive(owner.pid) and not _started_after(owner.pid, owner.started):
            raise OutputError(
                f"{self.path}: another run is writing to this output folder "
                f"({owner.describe()}); wait for it to finish or stop it, then run again "
                "(if no such run exists, delete the lock file)"
            )
        what = f"a stale lock of a run that is no longer running ({owner.describe()})"
        if self._take_over(what, owner):
            self._remove_temporary_files(owner.pid)

    def _take_over(self, what: str, owner: LockOwner | None) -> bool:
        """Remove the lock if it still is ``owner``'s (another run may have just taken it)."""
        if _read_owner(self.path) != owner:
            return False
        self.notes.append(f"note: took over {what}")
        logger.info(self.notes[-1])
        self.path.unlink(missing_ok=True)
        return True

    def _output_folders(self) -> list[Path]:
        """Where staged files live: ``data/processed`` and ``maps`` of the output folder."""
        candidates = (self.path.parent, self.output_dir / "maps")
        return [folder for folder in candidates if folder.is_dir()]

    def _remove_temporary_files(self, pid: int) -> None:
        """Finish a dead run's interrupted commit (its journal), or put back the outputs it
        had moved aside; then remove its staged files."""
        recovered = False
        try:
            recovered = journal.recover(self.output_dir, pid)
        except OSError as error:
            logger.warning(f"note: could not finish the interrupted commit of pid {pid}: {error}")
        if recovered:
            self.notes.append(f"note: finished the commit of the killed run (pid {pid})")
            logger.info(self.notes[-1])
        for folder in self._output_folders():
            for pattern in TEMPORARY_GLOBS:
                for temporary in folder.rglob(pattern.format(pid=pid)):
                    with contextlib.suppress(OSError):
                        temporary.unlink()
            if not recovered:
                self._restore_backups(folder, pid)

    def _restore_backups(self, folder: Path, pid: int) -> None:
        for backup in folder.rglob(BACKUP_GLOB.format(pid=pid)):
            final = backup.with_name(backup.name[1 : -len(f".{pid}.bak")])
            with contextlib.suppress(OSError):
                if final.exists():
                    backup.unlink()
                else:
                    os.replace(backup, final)


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    _ignore_further_interrupts()
    name = signal.Signals(signum).name
    raise Terminated(f"received {name}; earlier outputs were left as they were")


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    _ignore_further_interrupts()
    raise KeyboardInterrupt


def _ignore_further_interrupts() -> None:
    """One interrupt stops the run; more (a user pressing Ctrl-C again, a supervisor's
    repeated SIGTERM) must not cut short the clean-up that follows it."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` and SIGINT :class:`KeyboardInterrupt` in the main
    thread for the ``with`` body; only the first one: later ones are ignored while the run
    unwinds (stops its threads, removes its temporary files, releases its lock)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the body; raise afterwards if one arrived."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum in handlers:
        signal.signal(signum, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    if received:
        name = signal.Signals(received[0]).name
        raise Terminated(f"received {name} while outputs were renamed; the new ones are complete")
