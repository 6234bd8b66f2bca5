"""The study file -> frozen, validated settings, every problem reported at once.

``load_study(path)`` reads the TOML study file and returns a :class:`Study`; every problem
(unknown keys, wrong types, missing files, unordered breaks, negative coefficients) is
collected and raised as one :class:`~pipeline.errors.StudyError`.

May import: :mod:`pipeline.errors` and :mod:`pipeline.model.constants` (the method's names and
defaults). Reads the study file only; never the inputs it names.
"""

from pipeline.study.loader import SECTION_KEYS, load_study
from pipeline.study.settings import (
    MAP_CLASSIFICATIONS,
    BoundarySettings,
    Coefficients,
    ComputeSettings,
    LanduseSettings,
    MapSettings,
    OutputSettings,
    Study,
    ZoningSettings,
)

__all__ = [
    "MAP_CLASSIFICATIONS",
    "SECTION_KEYS",
    "BoundarySettings",
    "Coefficients",
    "ComputeSettings",
    "LanduseSettings",
    "MapSettings",
    "OutputSettings",
    "Study",
    "ZoningSettings",
    "load_study",
]
