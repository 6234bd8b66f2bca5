"""The synthetic Guiyang demo inputs (``carbon-zoning demo``): land-use rasters allocated to
match the demo's target areas. SYNTHETIC data, tagged as such in every file.

May import: :mod:`pipeline.inputs`, :mod:`pipeline.runtime`, :mod:`pipeline.errors`.
"""

from pipeline.demo.synthetic import demo_command, write_demo_rasters

__all__ = ["demo_command", "write_demo_rasters"]
