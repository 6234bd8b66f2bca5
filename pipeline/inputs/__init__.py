"""Reading and checking the study's inputs: boundaries, land-use rasters, land-use schemes and
area tables, statistics, reference tables; text encodings, unit-name matching and the checks
across inputs.

Readers name the file, the field or column and the value in every error and report every
problem at once.

May import: :mod:`pipeline.study` (settings), :mod:`pipeline.model` (names and constants),
:mod:`pipeline.runtime`, :mod:`pipeline.errors`. Never :mod:`pipeline.zonal` or
:mod:`pipeline.outputs`.
"""
