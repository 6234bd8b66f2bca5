"""Zonal tabulation: land-use rasters × reporting units -> hectares per (unit, year, code).

:func:`tabulate` is the engine's front: :mod:`~.geometry` puts the units on each raster's grid
and chooses the counting mode, :mod:`~.schedulers` runs the strips (threads here, or Dask),
:mod:`~.counting` holds the numba kernels, :mod:`~.jobs` the data they share, :mod:`~.cache`
the table kept between runs.

May import: :mod:`pipeline.inputs` (raster and boundary readers), :mod:`pipeline.study`,
:mod:`pipeline.model`, :mod:`pipeline.runtime`, :mod:`pipeline.errors`. Never
:mod:`pipeline.outputs`.
"""

from pipeline.zonal.engine import tabulate
from pipeline.zonal.jobs import AREA_COLUMNS, MODES, ZonalResult

__all__ = ["AREA_COLUMNS", "MODES", "ZonalResult", "tabulate"]
