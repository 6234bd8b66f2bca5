"""The layer rules of the house are enforced by import-linter: a forbidden import fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True
    )


@pytest.fixture
def copy_of_package(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_its_contracts(copy_of_package: Path) -> None:
    result = _lint(copy_of_package)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("model/zoning.py", "from pipeline.outputs import staging", "The model is pure"),
        ("model/balance.py", "import matplotlib", "The model is pure"),
        ("outputs/report.py", "from pipeline.inputs import names", "Outputs never read inputs"),
        ("outputs/maps.py", "from pipeline.outputs import render", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    copy_of_package: Path, module: str, line: str, contract: str
) -> None:
    path = copy_of_package / "pipeline" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = _lint(copy_of_package)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), result.stdout
