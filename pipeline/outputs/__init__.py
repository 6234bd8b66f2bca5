"""Everything a run writes: CSV tables, the Excel workbook, the GeoPackage with its QGIS
styles, maps and charts, the HTML report, and the staging that renames them all at once with
the run manifest.

Outputs draw what the model computed and never re-derive a rule of the method.

May import: :mod:`pipeline.model`, :mod:`pipeline.study`, :mod:`pipeline.runtime`,
:mod:`pipeline.errors`. Never :mod:`pipeline.inputs` or :mod:`pipeline.zonal`: what an output
needs from the inputs is handed to it.
"""
