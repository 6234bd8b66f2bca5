"""The method: the carbon-balance model, the zoning and the comparisons with a reference.

Pure computation on data frames and arrays: numpy and pandas only, no file or network I/O, no
settings objects (rules take plain values). Every rule of the method lives here once:
:mod:`~pipeline.model.constants` (classes, zones, levels, defaults), :mod:`~.balance`
(emissions, sinks, balance, intensities, EEC, SEC), :mod:`~.zoning` (levels and zones),
:mod:`~.reproduction` (comparison with a published table).

May import: :mod:`pipeline.errors` only.
"""
