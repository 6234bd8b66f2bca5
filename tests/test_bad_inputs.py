"""The bad-input corpus: one small study per folder of ``tests/bad_inputs/``, one defect each.

Each case folder holds a ``case.toml`` and, where the case needs them, text inputs
(``study.toml``, ``statistics.csv``, ``areas.csv``, ...). Rasters and vector files are
generated here from the case's spec, so no binaries are committed:

```toml
expect = "error"                    # or "ok"
message = ["lu_2015.tif", "no CRS"]  # substrings the message on stderr must contain
template = "rasters"                # study.toml from a template when the folder has none
append = "..."                      # text appended to the template
raster = [{ path = "lu_2015.tif", crs = "" }]   # see write_raster for the keys
vector = [{ path = "units.gpkg" }]               # see write_vector for the keys
```

Every case runs ``carbon-zoning run`` into an ``out/data/processed/`` pre-seeded with sentinel
outputs. An error case must exit non-zero without a traceback, with a message naming the file
and the culprit, and leave the sentinels byte-identical and no temporary files behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import CASES, REPO, build_case, snapshot

from pipeline.cli import main


def test_corpus_is_large_enough() -> None:
    assert len([c for c in CASES if not c.startswith("ok_")]) >= 30


@pytest.mark.parametrize("case", CASES)
def test_case(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study, spec = build_case(case, tmp_path)
    processed = study.parent / "out" / "data" / "processed"
    before = snapshot(processed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = main(["run", str(study), "--force"])
    out, err = capsys.readouterr()
    warned = " ".join(str(w.message) for w in caught)
    assert "Traceback" not in err + out
    if spec["expect"] == "ok":
        assert status == 0, err
        assert snapshot(processed) != before
        balance = pd.read_csv(processed / "carbon_balance.csv", encoding="utf-8-sig")
        assert sorted(zip(balance["unit"], balance["year"], strict=True)) == [
            ("A", 2015), ("A", 2020), ("B", 2015), ("B", 2020)
        ]  # fmt: skip
        for fragment in spec.get("warning", []):
            assert fragment in warned, warned
        return
    assert status != 0
    assert err.startswith("error: ")
    for fragment in spec["message"]:
        assert fragment in err, f"{fragment!r} not in the message:\n{err}"
    assert snapshot(processed) == before


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("ok_")])
def test_validate_reports_the_case(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``carbon-zoning validate`` finds the same problem and writes nothing (cases of the
    output folder, ``validate = false``, are not its business)."""
    study, spec = build_case(case, tmp_path)
    if spec.get("validate", True) is False:
        return
    before = snapshot(study.parent / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["validate", str(study)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in spec["message"]:
        assert fragment in err, f"{fragment!r} not in the message:\n{err}"
    assert snapshot(study.parent / "out") == before


MAX_PEAK_RSS_BYTES = 2**30
MEASURING_DRIVER = """\
import json, os, sys, warnings
from pipeline.cli import main
from pipeline.zonal.counting import load_kernels
load_kernels()  # once, before the forks (as a run would load them)
warnings.simplefilter("ignore")
pending, running = list(zip(sys.argv[1::2], sys.argv[2::2])), {}
while pending or running:
    while pending and len(running) < 2:
        case, study = pending.pop(0)
        pid = os.fork()
        if pid == 0:  # the case's own process, from the imported command line
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os._exit(main(["run", study, "--force"]))
        running[pid] = case
    pid, status, usage = os.wait4(-1, 0)
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    print(json.dumps([running.pop(pid), peak, os.waitstatus_to_exitcode(status)]), flush=True)
"""
"""A ``python -c`` program: ``run`` of each (case, study) pair in a process forked from one
that imported the command line (two at a time); prints each one's peak resident memory
(``wait4``'s ``ru_maxrss``: that process alone) and exit status."""


@pytest.mark.skipif(not hasattr(__import__("os"), "wait4"), reason="needs os.fork and os.wait4")
def test_peak_memory_of_every_case_is_under_1_gb(tmp_path: Path) -> None:
    """Each case runs in its own process; its peak RSS (imported libraries included) must stay
    under 1 GiB: bounded inputs (zip bombs, huge headers, a million units) never expand."""
    arguments, expected = [], {}
    for case in CASES:
        study, spec = build_case(case, tmp_path)
        arguments += [case, str(study)]
        expected[case] = spec["expect"]
    done = subprocess.run(
        [sys.executable, "-c", MEASURING_DRIVER, *arguments],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    measured = {
        case: (peak, status) for case, peak, status in map(json.loads, done.stdout.split("\n")[:-1])
    }
    assert set(measured) == set(CASES)
    for case, (_peak, status) in measured.items():
        assert (status == 0) == (expected[case] == "ok"), (case, status)
    heaviest = sorted(measured.items(), key=lambda item: -item[1][0])[:5]
    summary = ", ".join(f"{case} {peak / 2**20:.0f} MiB" for case, (peak, _s) in heaviest)
    assert all(peak < MAX_PEAK_RSS_BYTES for peak, _status in measured.values()), summary
    print(f"peak memory, heaviest cases: {summary}")
