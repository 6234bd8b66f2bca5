"""docs/notebook.ipynb runs end to end through the library API (so it cannot rot)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import REPO, demo_study_file
from nbclient import NotebookClient

NOTEBOOK = REPO / "docs" / "notebook.ipynb"


@pytest.mark.slow
def test_notebook_runs_the_demo_through_the_api(tmp_path: Path) -> None:
    demo_study_file(tmp_path, "[output]\nmaps = false\n")  # study.toml in the working folder
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "\n".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "碳汇功能区" in shown  # the zoning table
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the map
    assert (tmp_path / "data" / "processed" / "carbon_balance.gpkg").is_file()
    assert not (REPO / "docs" / "data").exists()  # nothing written beside the notebook
