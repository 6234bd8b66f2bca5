"""Shared factory fixtures: small studies, tables and files written to ``tmp_path``.

Several modules' fixtures live here; each block says which tests use it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]

# --- toy studies (study, statistics, balance, cli tests) --------------------------------

TOY_STATISTICS = pd.DataFrame(
    {
        "unit": ["A", "B", "A", "B"],
        "year": [2015, 2015, 2020, 2020],
        "population_10k": [10.0, 20.0, 12.0, 18.0],
        "gdp_100m_yuan": [100.0, 300.0, 150.0, 350.0],
        "energy_tce": [1000.0, 3000.0, 900.0, 2000.0],
    }
)
TOY_AREAS = pd.DataFrame(
    {
        "unit": ["A", "A", "A", "B", "B"] * 2,
        "year": [2015] * 5 + [2020] * 5,
        "code": [11, 21, 51, 41, 31] * 2,
        "area_ha": [100.0, 50.0, 50.0, 10.0, 1000.0, 90.0, 50.0, 60.0, 10.0, 1000.0],
    }
)
TOY_STUDY = """\
[study]
name = "toy"
output_dir = "out"

[landuse]
areas = "areas.csv"

[statistics]
path = "statistics.csv"
"""


@pytest.fixture
def toy_study(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write a two-unit study (A, B; 2015, 2020) and return the study file.

    Keyword arguments replace the study text (``text=``), the statistics frame
    (``statistics=``) or the area frame (``areas=``); frames may also be raw CSV text.
    """

    def make(
        text: str = TOY_STUDY,
        statistics: pd.DataFrame | str | None = None,
        areas: pd.DataFrame | str | None = None,
        folder: str = "study",
    ) -> Path:
        root = tmp_path / folder
        root.mkdir(parents=True, exist_ok=True)
        for name, content, default in (
            ("statistics.csv", statistics, TOY_STATISTICS),
            ("areas.csv", areas, TOY_AREAS),
        ):
            content = default if content is None else content
            if isinstance(content, str):
                (root / name).write_text(content, encoding="utf-8")
            else:
                content.to_csv(root / name, index=False)
        study = root / "study.toml"
        study.write_text(text, encoding="utf-8")
        return study

    return make
