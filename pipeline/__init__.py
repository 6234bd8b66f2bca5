"""carbon-balance-zoning: land-use rasters, boundaries and statistics -> carbon balance and
carbon-balance zoning (碳平衡分区).

The library API, for notebooks and scripts::

    import pipeline
    results = pipeline.run_study("study.toml")   # data frames; writes nothing
    results.zoning                               # one row per unit
    pipeline.write_outputs(results)              # tables, workbook, GeoPackage, maps, report

The package logs through :mod:`logging` (logger ``pipeline``) and is silent unless the caller
configures logging; the ``carbon-zoning`` command line configures it.
"""

import logging

from pipeline.api import (
    Results,
    plot_zoning,
    render_maps,
    run_study,
    validate_study,
    write_outputs,
)
from pipeline.errors import InputError, OutputError, PipelineError, PipelineWarning, StudyError
from pipeline.study import Study, load_study

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "InputError",
    "OutputError",
    "PipelineError",
    "PipelineWarning",
    "Results",
    "Study",
    "StudyError",
    "load_study",
    "plot_zoning",
    "render_maps",
    "run_study",
    "validate_study",
    "write_outputs",
]
