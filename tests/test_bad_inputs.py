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

import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import CASES, build_case, snapshot

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
