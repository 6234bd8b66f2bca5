"""No lost outputs: staged writes, all-or-nothing commits, interrupted and concurrent runs,
stale locks, the land-use cache and the run manifest."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    KILLED_COMMIT_DRIVER,
    REPO,
    SLOW_TABULATION_DRIVER,
    TOY_STUDY,
    build_case,
    driver_command,
    paused_run_command,
    snapshot,
    write_raster,
    write_vector,
)

from pipeline.cli import main
from pipeline.errors import OutputError
from pipeline.outputs.staging import StagedOutputs
from pipeline.runtime.files import sha256
from pipeline.runtime.lock import (
    RunLock,
    Terminated,
    deferred_interrupts,
    interrupts_as_keyboard_interrupt,
)

RASTER_CASE = "ok_rasters_on_different_grids"


def _raster_study(tmp_path: Path) -> Path:
    """A valid two-unit raster study whose output folder holds sentinel outputs."""
    study, _spec = build_case(RASTER_CASE, tmp_path)
    return study


def _processed(study: Path) -> Path:
    return study.parent / "out" / "data" / "processed"


def _leftovers(folder: Path) -> list[str]:
    """Hidden files (temporary, backup, lock, SQLite journals) and ``*.tmp*`` left behind."""
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or ".tmp" in p.name)


# --- staged outputs ----------------------------------------------------------------------


def test_failed_writer_keeps_earlier_outputs(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old a")

    def fail(path: Path) -> None:
        path.write_text("half")
        raise OSError("disk full")

    with (
        pytest.raises(OutputError, match=r"b\.txt: cannot write \(disk full\)"),
        StagedOutputs(tmp_path) as staged,
    ):
        staged.write_text("a.txt", "new a")
        staged.write("b.txt", fail)
    assert snapshot(tmp_path) == {"a.txt": b"old a"}


def test_failed_rename_rolls_back_every_output(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"old {name}")
    staged = StagedOutputs(tmp_path)
    staged.write_text("a.txt", "new a")
    staged.write_text("c.txt", "new c")
    staged.write_text("b.txt", "new b")
    staged.staging_path("b.txt").unlink()  # the last rename will fail
    with pytest.raises(OutputError, match=r"cannot replace .*earlier outputs were kept"):
        staged.commit()
    assert snapshot(tmp_path) == {"a.txt": b"old a.txt", "b.txt": b"old b.txt"}


def test_commit_replaces_all(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old")
    with StagedOutputs(tmp_path) as staged:
        staged.write_text("a.txt", "new")
        staged.write_text("sub/b.txt", "b")
    assert snapshot(tmp_path) == {"a.txt": b"new", "sub/b.txt": b"b"}


# --- interrupted and concurrent runs ---------------------------------------------------------


def _start_paused(study: Path, stage: str) -> subprocess.Popen[str]:
    """A run in a child process that pauses at ``stage`` (holding the lock)."""
    child = subprocess.Popen(
        paused_run_command(stage, "run", str(study), "--force"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(f"paused at {stage}"):
            return child
    child.wait(timeout=60)
    raise AssertionError(f"the run did not reach {stage}: {child.stderr.read()}")  # type: ignore[union-attr]


@pytest.mark.parametrize(("stage", "signum"), [("zonal", signal.SIGTERM), ("write", signal.SIGINT)])
def test_interrupted_run_keeps_earlier_outputs(
    tmp_path: Path, stage: str, signum: signal.Signals
) -> None:
    study = _raster_study(tmp_path)
    before = snapshot(_processed(study))
    child = _start_paused(study, stage)
    child.send_signal(signum)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert err.strip().count("\n") == 0, err
    assert err.startswith("interrupted")
    assert "Traceback" not in err
    assert snapshot(_processed(study)) == before
    assert _leftovers(study.parent / "out") == []


ROWS_SLOW = 400  # one strip per row: 400 × 0.1 s over 2 threads ≥ 20 s of counting


def _slow_study(tmp_path: Path, scheduler: str = "single") -> Path:
    """The raster case with 400 × 400 px rasters (5 m pixels over the same 2 km)."""
    study = _raster_study(tmp_path)
    if scheduler != "single":
        text = study.read_text(encoding="utf-8")
        study.write_text(f'{text}\n[compute]\nscheduler = "{scheduler}"\n', encoding="utf-8")
    for name in ("lu_2015.tif", "lu_2020.tif"):
        write_raster(study.parent, {"path": name, "size": ROWS_SLOW, "pixel": 5.0})
    return study


@pytest.mark.parametrize(
    ("scheduler", "signals"),
    [("single", 2), ("single", 3), ("threads", 3), ("processes", 2)],
)
def test_repeated_interrupts_stop_a_tabulation_within_two_seconds(
    tmp_path: Path, scheduler: str, signals: int
) -> None:
    """Dask's local schedulers too: the stop flag is checked per strip in every task."""
    study = _slow_study(tmp_path, scheduler)
    before = snapshot(_processed(study))
    child = subprocess.Popen(
        driver_command(SLOW_TABULATION_DRIVER, "0.1", "run", str(study), "--force"),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # a failed test kills the worker processes too
    )  # fmt: skip
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("counting"):
            break
    time.sleep(1.0)  # well into the counting
    assert child.poll() is None, child.stderr.read()  # type: ignore[union-attr]
    sent_at = time.monotonic()
    for _ in range(signals):
        child.send_signal(signal.SIGINT)
        time.sleep(0.1)
    try:
        child.wait(timeout=2.0 + 0.1 * signals)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    elapsed_s = time.monotonic() - sent_at
    err = child.stderr.read()  # type: ignore[union-attr]
    assert child.returncode == 130, err
    assert elapsed_s < 2.0 + 0.1 * signals
    assert err.startswith("interrupted") and "Traceback" not in err
    assert snapshot(_processed(study)) == before
    assert _leftovers(study.parent / "out") == []


def test_worker_processes_end_with_a_killed_run(tmp_path: Path) -> None:
    """SIGKILL leaves no one to stop Dask's process pool: its workers notice that their
    parent is gone and end (instead of counting on as orphans)."""
    study = _slow_study(tmp_path, "processes")
    child = subprocess.Popen(
        driver_command(SLOW_TABULATION_DRIVER, "0.1", "run", str(study), "--force"),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if line.startswith("counting"):
                break
        time.sleep(0.5)
        child.kill()
        child.wait(timeout=10)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                os.killpg(child.pid, 0)  # a worker of the group is still alive
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("worker processes still running 5 s after their run was killed")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


FULL_DISK_LIMIT_BYTES = 64 * 1024
"""Smaller than the run's GeoPackage (~220 KB), larger than its inputs and every text output."""


def _small_filesystem(folder: Path) -> bool:
    """Mount a 160 KB tmpfs at ``folder`` (root only; False where mounting is not allowed)."""
    if os.geteuid() != 0:
        return False
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(folder)],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def _limit_file_size() -> None:
    """In the child: files may not grow beyond the limit (writes fail with EFBIG)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
    resource.setrlimit(resource.RLIMIT_FSIZE, (FULL_DISK_LIMIT_BYTES, FULL_DISK_LIMIT_BYTES))


@pytest.mark.parametrize("full", ["file_size_limit", "tiny_filesystem"])
def test_a_full_disk_is_an_output_error_and_keeps_earlier_outputs(
    tmp_path: Path, full: str
) -> None:
    """Outputs that cannot be written whole (the disk fills while the GeoPackage is built):
    exit 2 with a message naming the file and the OS error, the earlier outputs unchanged,
    no temporary file, journal or lock left. Either a real 160 KB filesystem (where the test
    may mount one) or a file-size limit in the child (``RLIMIT_FSIZE``: writes fail as on a
    full disk)."""
    root = tmp_path / "small"
    mounted = full == "tiny_filesystem" and _small_filesystem(root)
    if full == "tiny_filesystem" and not mounted:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        study, _spec = build_case(RASTER_CASE, root)
        before = snapshot(_processed(study))
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", "run", str(study)],
            cwd=REPO, capture_output=True, text=True, timeout=300,
            preexec_fn=None if mounted else _limit_file_size,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
        assert re.search(rf"{re.escape(str(_processed(study)))}/\S+: cannot", done.stderr)
        if mounted:  # (the text outputs fit; the GeoPackage is the first that does not)
            assert re.search(r"No space left on device|[0-9]+ bytes free on its disk", done.stderr)
        else:
            assert re.search(
                rf"File too large|files limited to {FULL_DISK_LIMIT_BYTES} bytes", done.stderr
            )
        assert snapshot(_processed(study)) == before
        assert _leftovers(study.parent / "out") == []
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], check=False)


def _changed_inputs_run(study: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    """A second run on other statistics (so its outputs differ), killed at rename ``kill_at``."""
    statistics = study.parent / "statistics.csv"
    statistics.write_text(statistics.read_text().replace("10.0", "11.0"))
    return subprocess.run(
        driver_command(KILLED_COMMIT_DRIVER, str(kill_at), "run", str(study)),
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("kill_at", [1, 4, 9])
def test_a_commit_killed_at_a_rename_is_completed_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kill_at: int
) -> None:
    study = _raster_study(tmp_path)
    _run(study, capsys)
    processed = _processed(study)
    old = snapshot(processed)
    killed = _changed_inputs_run(study, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (processed / ".lock").exists()
    with RunLock(processed, study.parent / "out") as lock:  # what the next run does first
        assert any("finished the commit of the killed run" in note for note in lock.notes)
        recovered = snapshot(processed)
    recovered.pop(".lock")
    assert _leftovers(study.parent / "out") == []
    manifest = json.loads(recovered["run.json"])
    listed = {str(Path(p).relative_to("data/processed")) for p in manifest["outputs"]}
    cached = Path(manifest["landuse_cache"]["file"])  # the areas and their counting sidecar
    pairs = Path(manifest["landuse_cache"]["transitions_file"])  # and their transitions
    kept = {f"cache/{cached.name}", f"cache/{cached.stem}.json", f"cache/{pairs.name}"}
    assert set(recovered) == listed | kept
    changed = [name for name in ("carbon_balance.csv", "run.json", "carbon_balance.xlsx")
               if recovered[name] != old[name]]  # fmt: skip
    assert changed == ["carbon_balance.csv", "run.json", "carbon_balance.xlsx"]
    assert manifest["landuse_cache"]["reused"] is True


def test_second_run_is_refused_while_one_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = _raster_study(tmp_path)
    before = snapshot(_processed(study))
    child = _start_paused(study, "zonal")
    try:
        assert main(["run", str(study)]) == 2
        err = capsys.readouterr().err
        assert f".lock: another run is writing to this output folder (pid {child.pid}" in err
        assert socket.gethostname() in err
        held = snapshot(_processed(study))
        assert json.loads(held.pop(".lock"))["pid"] == child.pid
        assert held == before
    finally:
        child.terminate()
        child.communicate(timeout=60)
    assert _leftovers(study.parent / "out") == []


def test_two_runs_started_together_one_wins(tmp_path: Path) -> None:
    study = _raster_study(tmp_path)
    command = paused_run_command("zonal", "run", str(study), "--force")
    children = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while all(child.poll() is None for child in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        loser = next(child for child in children if child.poll() is not None)
        winner = next(child for child in children if child is not loser)
        assert loser.returncode == 2
        assert b"another run is writing to this output folder" in loser.stderr.read()
        assert winner.poll() is None  # paused at zonal, holding the lock
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
            child.communicate(timeout=60)
    assert _leftovers(study.parent / "out") == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_lock_is_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _raster_study(tmp_path)
    processed = _processed(study)
    pid = _dead_pid()
    owner = {"pid": pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"}
    (processed / ".lock").write_text(json.dumps(owner))
    (processed / f".zoning.csv.{pid}.tmp").write_text("half-written")
    (processed / f".run.json.{pid}.bak").write_text("moved aside")
    assert main(["run", str(study)]) == 0
    out = capsys.readouterr().out
    assert f"note: took over a stale lock of a run that is no longer running (pid {pid}" in out
    assert _leftovers(study.parent / "out") == []
    assert json.loads((processed / "run.json").read_text())["study"] == str(study)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_lock_of_a_reused_pid_is_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After a reboot the lock's pid may belong to another, younger process."""
    study = _raster_study(tmp_path)
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": "2001-01-01T00:00:00+00:00",
    }
    (_processed(study) / ".lock").write_text(json.dumps(owner))
    assert main(["run", str(study)]) == 0
    assert "took over a stale lock" in capsys.readouterr().out


def test_unreadable_lock_is_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _raster_study(tmp_path)
    lock = _processed(study) / ".lock"
    lock.write_text("")
    os.utime(lock, (time.time() - 60, time.time() - 60))  # a young one is still being written
    assert main(["run", str(study)]) == 0
    assert "took over an unreadable lock file" in capsys.readouterr().out


def test_lock_of_another_host_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = _raster_study(tmp_path)
    owner = {"pid": 1, "host": "elsewhere", "started": "2026-01-01T00:00:00+00:00"}
    (_processed(study) / ".lock").write_text(json.dumps(owner))
    assert main(["run", str(study)]) == 2
    assert "in use by a run on another host (pid 1 on host 'elsewhere'" in capsys.readouterr().err


def test_failed_run_leaves_no_new_output_folder(
    toy_study: object, capsys: pytest.CaptureFixture[str]
) -> None:
    study = toy_study(statistics="unit,year\n")  # type: ignore[operator]
    assert main(["run", str(study)]) == 2
    assert not (study.parent / "out").exists()


# --- the land-use cache -------------------------------------------------------------------


def _run(study: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["run", str(study), *extra]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _manifest(study: Path) -> dict:
    return json.loads((_processed(study) / "run.json").read_text(encoding="utf-8"))


def test_cache_hit_miss_and_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _raster_study(tmp_path)
    first = _run(study, capsys)
    assert "reused cached land-use areas" not in first
    key = _manifest(study)["landuse_cache"]["key"]
    assert (study.parent / "out" / _manifest(study)["landuse_cache"]["file"]).is_file()
    balance = (_processed(study) / "carbon_balance.csv").read_bytes()

    second = _run(study, capsys)
    assert f"reused cached land-use areas (key {key[:12]})" in second
    assert _manifest(study)["landuse_cache"]["reused"] is True
    assert (_processed(study) / "carbon_balance.csv").read_bytes() == balance

    forced = _run(study, capsys, "--force")
    assert "reused cached" not in forced
    assert _manifest(study)["landuse_cache"]["reused"] is False
    assert (_processed(study) / "carbon_balance.csv").read_bytes() == balance


def _edit_area_times_ten(text: str) -> str:
    """Every ``area_ha`` of a cache table multiplied by ten, its checksum line kept."""
    lines = text.splitlines(keepends=True)
    header = lines[1].rstrip("\n").split(",")
    column = header.index("area_ha")
    for number in range(2, len(lines)):
        cells = lines[number].rstrip("\n").split(",")
        cells[column] = repr(float(cells[column]) * 10)
        lines[number] = ",".join(cells) + "\n"
    return "".join(lines)


@pytest.mark.parametrize(
    "damage",
    [
        _edit_area_times_ten,
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: text.replace(",", ",,", 1).replace("\n1", "\n", 1),  # a blank cell
        lambda text: text.split("\n", 1)[1],  # no checksum line
    ],
    ids=["times_ten", "truncated", "blank_cell", "no_checksum"],
)
def test_a_damaged_cache_is_recomputed_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object
) -> None:
    study = _raster_study(tmp_path)
    _run(study, capsys)
    balance = (_processed(study) / "carbon_balance.csv").read_bytes()
    entry = study.parent / "out" / _manifest(study)["landuse_cache"]["file"]
    entry.write_text(damage(entry.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    out = _run(study, capsys)
    assert "do not match their checksum (edited or damaged); recomputed them" in out
    assert "reused cached" not in out
    assert (_processed(study) / "carbon_balance.csv").read_bytes() == balance
    assert "reused cached" in _run(study, capsys)  # the recomputed entry is verified


@pytest.mark.parametrize("change", ["raster", "boundaries", "nodata", "mode"])
def test_any_change_invalidates_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    study = _raster_study(tmp_path)
    _run(study, capsys)
    key = _manifest(study)["landuse_cache"]["key"]
    root = study.parent
    if change == "raster":
        write_raster(root, {"path": "lu_2015.tif", "codes": [11, 21, 22]})
    elif change == "boundaries":
        write_vector(root, {"path": "units.gpkg", "features": [
            {"name": "A", "box": [0, 12]}, {"name": "B", "box": [12, 20]}
        ]})  # fmt: skip
    elif change == "nodata":
        study.write_text(study.read_text().replace("[landuse]\n", "[landuse]\nnodata = 254\n"))
    else:
        study.write_text(study.read_text().replace("[landuse]\n", '[landuse]\nmode = "exact"\n'))
    out = _run(study, capsys)
    assert "reused cached" not in out
    assert _manifest(study)["landuse_cache"]["key"] != key


def test_failed_run_writes_no_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _raster_study(tmp_path)
    (study.parent / "statistics.csv").write_text(
        "unit,year,population_10k,gdp_100m_yuan,energy_tce\n"
        "A,2015,1,1,1\nB,2015,1,1,1\nA,2020,1,1,1\nB,2020,0,1,0\n"
    )
    assert main(["run", str(study)]) == 2
    assert "emission_t = 0" in capsys.readouterr().err
    assert not (_processed(study) / "cache").exists()


# --- the run manifest ------------------------------------------------------------------------


def test_manifest_records_inputs_versions_and_timings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = _raster_study(tmp_path)
    _run(study, capsys)
    manifest = _manifest(study)
    assert manifest["study"] == str(study)
    assert manifest["study_sha256"] == sha256(study)
    roles = {"statistics", "boundaries", "landuse_2015", "landuse_2020"}
    assert roles <= set(manifest["inputs"])
    for entry in manifest["inputs"].values():
        assert entry["sha256"] == sha256(Path(entry["path"]))
    assert manifest["settings"]["coefficients"]["energy_t_co2_per_tce"] == 2.66
    assert {"python", "pandas", "rasterio"} <= set(manifest["versions"])
    assert {"study", "statistics", "boundaries", "zonal", "model"} <= set(manifest["timings_s"])
    modes = manifest["zonal"]["mode"]  # the case's two years are on two grids
    assert set(modes.values()) <= {"centre", "exact"}
    assert manifest["zonal"]["grid"] == {"2015": 0, "2020": 1}
    assert manifest["notes"] == [
        "read statistics statistics.csv: CSV, encoding UTF-8",
        "note: no land-use transitions 2015 -> 2020: the two rasters lie on different grids",
        f"note: land-use counting (mode = 'auto'): 2015: {modes['2015']} (grid 0); "
        f"2020: {modes['2020']} (grid 1)",
        "note: spatial autocorrelation (Moran's I, LISA) skipped: 2 units, fewer than the "
        "minimum of 10 (a permutation test on so few units means nothing)",
    ]
    assert manifest["landuse_cache"]["reused"] is False
    for output in manifest["outputs"]:
        assert (study.parent / "out" / output).is_file()


def test_shapefile_sidecars_are_checksummed(tmp_path: Path) -> None:
    from pipeline.inputs.checks import input_files
    from pipeline.study import load_study

    study = _raster_study(tmp_path)
    write_vector(study.parent, {"path": "units.shp"})
    study.write_text(study.read_text().replace("units.gpkg", "units.shp"))
    files = input_files(load_study(study))
    assert {"boundaries", "boundaries.dbf", "boundaries.shx", "boundaries.prj"} <= set(files)


def test_sigterm_handler_is_restored(toy_study: object) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    study = toy_study(text=TOY_STUDY + "\n[output]\nmaps = false\n")  # type: ignore[operator]
    assert main(["run", str(study)]) == 0
    assert signal.getsignal(signal.SIGTERM) == previous
    time.sleep(0)


main_thread_only = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be set in the main thread",
)


@main_thread_only
def test_sigterm_becomes_an_interrupt() -> None:
    with pytest.raises(Terminated, match="received SIGTERM; earlier outputs were left"):  # noqa: SIM117
        with interrupts_as_keyboard_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises here


@main_thread_only
def test_signals_wait_until_the_renames_are_done() -> None:
    reached = False
    with pytest.raises(Terminated, match="SIGINT while outputs were renamed"):  # noqa: SIM117
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            reached = True
    assert reached


def test_planted_links_at_temporary_names_are_not_followed(tmp_path: Path) -> None:
    """Temporary names hold a random part and are created exclusively: a link planted at the
    old, guessable name (``.a.txt.<pid>.tmp``) is left alone, its target untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "out").mkdir()
    planted = tmp_path / "out" / f".a.txt.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    with StagedOutputs(tmp_path / "out") as staged:
        temporary = staged.staging_path("a.txt")
        assert temporary != planted and not temporary.is_symlink()
        staged.write_text("a.txt", "new a")
    assert victim.read_text() == "precious"
    assert (tmp_path / "out" / "a.txt").read_text() == "new a"
    assert planted.is_symlink()


def test_a_cache_entry_that_is_a_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = _raster_study(tmp_path)
    _run(study, capsys)
    entry = study.parent / "out" / _manifest(study)["landuse_cache"]["file"]
    before = snapshot(_processed(study))
    entry.unlink()
    entry.mkdir()
    before.pop(str(entry.relative_to(_processed(study))))
    assert main(["run", str(study)]) == 2
    err = capsys.readouterr().err
    assert f"{entry}: is a folder where an output file goes" in err
    assert snapshot(_processed(study)) == before
    assert _leftovers(study.parent / "out") == []


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda text: text[: len(text) // 2], "blank cell"),
        (lambda text: text.replace("\nA,", "\nA,inf,", 1), "rows have more fields"),
        (lambda text: text.replace("\nB,2015,", "\nB,20x5,", 1), "column 'year': not a finite"),
    ],
    ids=["truncated", "extra_field", "not_a_number"],
)
def test_maps_on_a_damaged_table_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object, expected: str
) -> None:
    study = _raster_study(tmp_path)
    _run(study, capsys)
    table = _processed(study) / "carbon_balance.csv"
    table.write_text(damage(table.read_text(encoding="utf-8-sig")), encoding="utf-8")  # type: ignore[operator]
    before = snapshot(study.parent / "out")
    assert main(["maps", str(study)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {table}") and expected in err, err
    assert "run `carbon-zoning run` on the study again" in err
    assert snapshot(study.parent / "out") == before
