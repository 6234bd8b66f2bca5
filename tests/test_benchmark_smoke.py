"""The zonal benchmark runs end to end on a small input and checks its own equality."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmark_smoke(tmp_path: Path) -> None:
    command = [sys.executable, str(REPO / "benchmarks" / "zonal.py"), "--pixels", "3000"]
    command += ["--units", "10", "--rounds", "1", "--no-demo", "--out", str(tmp_path)]
    subprocess.run(command, check=True, cwd=REPO, capture_output=True, timeout=300)
    report_json = tmp_path / "results" / "zonal_3000px_10u.json"
    results = json.loads(report_json.read_text(encoding="utf-8"))
    assert results["checks"]["centre_equals_rasterstats"] is True
    assert results["checks"]["exact_within_0.01_percent"] is True
    assert set(results["engines"]) >= {"engine", "rasterstats", "exactextract", "read"}
    assert all(r["peak_mb"] > 0 and r["median_s"] > 0 for r in results["engines"].values())
    assert results["engines"]["engine_3years"]["rasterizations"] == 1
    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "3000 × 3000 px" in report and "centre table equals rasterstats: True" in report


@pytest.mark.slow
def test_transitions_benchmark_smoke(tmp_path: Path) -> None:
    command = [sys.executable, str(REPO / "benchmarks" / "transitions.py"), "--pixels", "400"]
    command += ["--units", "5", "--rounds", "1", "--out", str(tmp_path), "--work", str(tmp_path)]
    subprocess.run(command, check=True, cwd=REPO, capture_output=True, timeout=300)
    results = json.loads((tmp_path / "transitions_400px_5u.json").read_text(encoding="utf-8"))
    assert len(results["rows"]) == 4
    assert all(row["with_s"] > 0 and row["without_s"] > 0 for row in results["rows"])
