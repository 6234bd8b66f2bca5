"""Files that are not files: FIFOs and devices are refused by name before any read.

A FIFO blocks the reader until a writer comes, ``/dev/zero`` never ends: both used to hang a
run (hashing for the cache key, with the lock held) and ``validate``. The readers run in a
child process with a timeout, so a hang fails the test instead of blocking the suite, and
with a 3 GiB address-space limit, so a read of ``/dev/zero`` fails instead of filling memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, build_case

from pipeline.errors import InputError
from pipeline.runtime.files import refuse_non_file, sha256, special_file_kind
from pipeline.zonal import cache

TIMEOUT_S = 120  # the child starts in a few seconds; a read of a FIFO would block for ever


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


def test_kinds_are_found_without_opening(tmp_path: Path, fifo: Path) -> None:
    (tmp_path / "plain.csv").write_text("a\n", encoding="utf-8")
    (tmp_path / "zero.tif").symlink_to("/dev/zero")
    assert special_file_kind(fifo) == "a FIFO (named pipe)"
    assert special_file_kind(tmp_path / "zero.tif") == "a character device"  # link followed
    assert special_file_kind("/dev/null") == "a character device"
    for regular in (tmp_path / "plain.csv", tmp_path, tmp_path / "missing.csv"):
        assert special_file_kind(regular) is None


def test_refusals_name_the_file_and_what_it_is(tmp_path: Path, fifo: Path) -> None:
    with pytest.raises(InputError) as caught:
        refuse_non_file(fifo)
    assert str(caught.value) == (
        f"{fifo}: not a regular file: it is a FIFO (named pipe), and reading it would never "
        "end; point the study at the file itself"
    )
    with pytest.raises(InputError, match="is a folder, not a file"):
        refuse_non_file(tmp_path)
    refuse_non_file(tmp_path, folder_ok=True)
    with pytest.raises(InputError, match="it is a character device"):
        sha256(Path("/dev/zero"))


READERS_DRIVER = """\
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from pipeline.errors import PipelineError
from pipeline.inputs import boundaries, landuse, rasters, reference, statistics
from pipeline.zonal import cache

path, output_dir = Path(sys.argv[1]), Path(sys.argv[2])
key = "0" * 64
(output_dir / cache.relative_path(key)).parent.mkdir(parents=True, exist_ok=True)
readers = {
    "raster": lambda: rasters.read_info(path.with_suffix(".tif")),
    "statistics csv": lambda: statistics.load_statistics(path.with_suffix(".csv")),
    "statistics xlsx": lambda: statistics.load_statistics(path.with_suffix(".xlsx")),
    "boundaries": lambda: boundaries.read_units(path.with_suffix(".gpkg")),
    "shapefile sidecar": lambda: boundaries.read_units(path.with_suffix(".shp")),
    "area table": lambda: landuse.read_area_table(path.with_suffix(".areas.csv")),
    "scheme": lambda: landuse.read_scheme(path.with_suffix(".scheme.csv")),
    "reference": lambda: reference.read_reference(path.with_suffix(".ref.csv"), ("unit",)),
    "notes": lambda: reference.read_notes(path.with_suffix(".md")),
    "cache table": lambda: cache.load_entry(output_dir, key),
}
for name, read in readers.items():
    try:
        read()
        print(json.dumps([name, "no error"]), flush=True)
    except PipelineError as error:
        print(json.dumps([name, str(error)]), flush=True)
"""
"""A ``python -c`` program: each reader on ``<stem>.<suffix>`` (made special by the test)."""

SUFFIXES = (".tif", ".csv", ".xlsx", ".gpkg", ".areas.csv", ".scheme.csv", ".ref.csv", ".md")


def _plant(folder: Path, kind: str) -> tuple[Path, Path]:
    """Every reader's input, and the cache table, as a FIFO or a link to ``/dev/zero``."""
    stem = folder / "input"
    output_dir = folder / "out"
    cache_table = output_dir / cache.relative_path("0" * 64)
    cache_table.parent.mkdir(parents=True)
    shapefile = stem.with_suffix(".shp")
    shapefile.write_bytes(b"")  # a real .shp; its .dbf is special
    for path in [*(stem.with_suffix(s) for s in SUFFIXES), stem.with_suffix(".dbf"), cache_table]:
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero")
    return stem, output_dir


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_every_reader_refuses_a_fifo_or_device_by_name(tmp_path: Path, kind: str) -> None:
    stem, output_dir = _plant(tmp_path, kind)
    done = subprocess.run(
        [sys.executable, "-c", READERS_DRIVER, str(stem), str(output_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = dict(json.loads(line) for line in done.stdout.splitlines())
    what = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    expected_files = {
        "raster": ".tif", "statistics csv": ".csv", "statistics xlsx": ".xlsx",
        "boundaries": ".gpkg", "shapefile sidecar": ".dbf", "area table": ".areas.csv",
        "scheme": ".scheme.csv", "reference": ".ref.csv", "notes": ".md",
    }  # fmt: skip
    assert set(results) == {*expected_files, "cache table"}
    for reader, suffix in expected_files.items():
        assert results[reader].startswith(f"{stem.with_suffix(suffix)}: not a regular file"), (
            reader,
            results[reader],
        )
        assert what in results[reader]
    assert results["cache table"].startswith(f"{output_dir / cache.relative_path('0' * 64)}:")
    assert f"is {what} where a cache file goes" in results["cache table"]


@pytest.mark.parametrize(
    ("case", "culprit"),
    [("statistics_is_a_fifo", "statistics.csv"), ("raster_is_dev_zero", "lu_2020.tif")],
)
def test_validate_and_run_refuse_without_hanging(tmp_path: Path, case: str, culprit: str) -> None:
    """The command line, in a child with a timeout: exit 2, a message naming the file."""
    study, _spec = build_case(case, tmp_path)
    for command in ("validate", "run"):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", command, str(study)],
            cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert f"not a regular file: {culprit!r}" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (study.parent / "out" / "data" / "processed" / ".lock").exists()
