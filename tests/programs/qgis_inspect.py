"""Open a GeoPackage the way a QGIS user does and print what QGIS saw, as one JSON document.

Run with the SYSTEM Python that has Debian's ``python3-qgis`` (not the project's venv)::

    QGIS_PREFIX_PATH=/usr QT_QPA_PLATFORM=offscreen \\
        /usr/bin/python3 tests/programs/qgis_inspect.py carbon_balance.gpkg out/ \\
        [--font NotoSansCJKsc-Regular.otf] [--size 800]

For every layer (spatial and attribute tables) it records the messages QGIS and GDAL log
while the layer is opened and its default style (the ``layer_styles`` row of the GeoPackage)
is loaded, the renderer (graduated ranges, categories), field aliases, the label font, the
feature count, and for spatial layers a PNG rendered with labels (``<out>/<layer>.png``).
Only the standard library, PyQGIS and GDAL's Python bindings are used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QGIS_PREFIX_PATH", "/usr")

from qgis.core import (  # after the environment above
    Qgis,
    QgsApplication,
    QgsCoordinateTransformContext,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProviderRegistry,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QLocale, QSize
from qgis.PyQt.QtGui import QColor, QFontDatabase

try:
    from osgeo import gdal
except ImportError:  # QGIS without GDAL's bindings: QGIS's own log still counts
    gdal = None

LEVELS = {0: "info", 1: "warning", 2: "critical", 3: "success", 4: "none"}
CPL_LEVELS = {0: "none", 1: "debug", 2: "warning", 3: "failure", 4: "fatal"}


class Messages:
    """Everything QGIS's message log and GDAL's error handler report, in order."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def qgis(self, message: str, tag: str, level: object) -> None:
        level = LEVELS.get(int(level), str(level))
        self.items.append({"source": "qgis", "tag": tag, "level": level, "text": message})

    def gdal(self, level: int, number: int, text: str) -> None:
        level = CPL_LEVELS.get(level, str(level))
        if level != "debug":
            self.items.append(
                {"source": "gdal", "tag": f"CPLE {number}", "level": level, "text": text}
            )

    def take(self) -> list[dict[str, str]]:
        QgsApplication.processEvents()  # log messages from other threads arrive queued
        items, self.items = self.items, []
        return items


def layer_names(path: Path) -> list[str]:
    """Every layer GDAL lists (spatial and attribute tables); what opening says is logged."""
    if gdal is None:
        return [d.name() for d in QgsProviderRegistry.instance().querySublayers(str(path))]
    dataset = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    if dataset is None:
        return []
    return [dataset.GetLayer(i).GetName() for i in range(dataset.GetLayerCount())]


def renderer_info(layer: QgsVectorLayer) -> dict[str, object]:
    renderer = layer.renderer()
    if renderer is None:
        return {"renderer": None}
    info: dict[str, object] = {"renderer": renderer.type()}
    if hasattr(renderer, "classAttribute"):
        info["attribute"] = renderer.classAttribute()
    if renderer.type() == "graduatedSymbol":
        info["ranges"] = [
            {
                "lower": r.lowerValue(),
                "upper": r.upperValue(),
                "label": r.label(),
                "colour": r.symbol().color().name(),
            }
            for r in renderer.ranges()
        ]
    if renderer.type() == "categorizedSymbol":
        info["categories"] = [
            {"value": c.value(), "label": c.label(), "colour": c.symbol().color().name()}
            for c in renderer.categories()
        ]
    return info


def label_info(layer: QgsVectorLayer) -> dict[str, object]:
    labeling = layer.labeling() if layer.labelsEnabled() else None
    if labeling is None or not hasattr(labeling, "settings"):
        return {"labels": False}
    settings = labeling.settings()
    font = settings.format().font()
    return {
        "labels": True,
        "label_field": settings.fieldName,
        "font_family": font.family(),
        "font_available": font.family() in QFontDatabase().families(),
        "font_found": settings.format().fontFound(),  # QGIS's verdict on the style's font
        "font_requested": settings.format().resolvedFontFamily(),  # as named in the style
        "font_size": settings.format().size(),
    }


def field_info(layer: QgsVectorLayer) -> dict[str, object]:
    fields = layer.fields()
    info = {"fields": [f.name() for f in fields]}
    info["aliases"] = {f.name(): f.alias() for f in fields if f.alias()}
    widgets = {}
    for index, field in enumerate(fields):
        setup = layer.editorWidgetSetup(index)
        if setup.type():
            widgets[field.name()] = {"type": setup.type(), "config": _plain(setup.config())}
    info["widgets"] = widgets
    # the first feature as the attribute table shows it (aliases, widget precision applied)
    feature = next(layer.getFeatures(), None)
    registry = QgsApplication.fieldFormatterRegistry()
    display = {}
    for index, field in enumerate(fields if feature is not None else []):
        setup = layer.editorWidgetSetup(index)
        formatter = registry.fieldFormatter(setup.type())
        value = feature.attribute(index)
        text = formatter.representValue(layer, index, setup.config(), None, value)
        display[field.name()] = text if len(text) <= 80 else text[:77] + "..."
    info["first_feature_display"] = display
    return info


def _plain(value: object) -> object:
    """Qt variants (maps, lists, numbers) as JSON-able values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def render(layer: QgsVectorLayer, png: Path, size: int) -> dict[str, object]:
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent().buffered(layer.extent().width() * 0.03))
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor("white"))
    settings.setFlag(QgsMapSettings.DrawLabeling, True)
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    errors = [f"{e.layerID}: {e.message}" for e in job.errors()]
    saved = job.renderedImage().save(str(png), "PNG")
    return {"png": str(png) if saved else None, "render_errors": errors}


def inspect_layer(path: Path, name: str, out: Path, size: int, messages: Messages) -> dict:
    options = QgsVectorLayer.LayerOptions(QgsCoordinateTransformContext())
    options.loadDefaultStyle = False  # loaded below, so its result can be reported
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr", options)
    info: dict[str, object] = {"valid": layer.isValid(), "open_messages": messages.take()}
    if not layer.isValid():
        return info
    spatial = layer.isSpatial()
    message, loaded = layer.loadDefaultStyle()
    info["spatial"] = spatial
    info["geometry"] = layer.geometryType() if spatial else None
    info["crs"] = layer.crs().authid() if spatial else None
    info["feature_count"] = layer.featureCount()
    info["style_loaded"] = bool(loaded)
    info["style_message"] = message
    info["style_messages"] = messages.take()
    # the layer's own styles come first, then the other layers' (``count`` are its own)
    count, _ids, names, descriptions, _error = layer.listStylesInDatabase()
    own = zip(names[:count], descriptions[:count], strict=True)
    info["database_styles"] = [{"name": n, "description": d} for n, d in own]
    info.update(field_info(layer))
    if spatial:
        info.update(renderer_info(layer))
        info.update(label_info(layer))
        info.update(render(layer, out / f"{name}.png", size))
        info["render_messages"] = messages.take()
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("geopackage", type=Path)
    parser.add_argument("out", type=Path, help="folder for the rendered PNGs")
    parser.add_argument(
        "--font",
        type=Path,
        action="append",
        default=[],
        help="font file to make available to QGIS (repeatable)",
    )
    parser.add_argument("--size", type=int, default=800, help="PNG width and height, px")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    app = QgsApplication([], False)
    app.setPrefixPath(os.environ["QGIS_PREFIX_PATH"], True)
    app.initQgis()
    locale = (
        QLocale()
    )  # as the QGIS desktop starts: no group separator ("locale/showGroupSeparator")
    locale.setNumberOptions(locale.numberOptions() | QLocale.OmitGroupSeparator)
    QLocale.setDefault(locale)
    messages = Messages()
    QgsApplication.messageLog().messageReceived.connect(messages.qgis)
    if gdal is not None:  # global, so GDAL calls in QGIS's render threads are caught too
        gdal.SetErrorHandler(messages.gdal)
    fonts = {}
    for font in args.font:
        font_id = QFontDatabase.addApplicationFont(str(font))
        fonts[str(font)] = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []

    names = layer_names(args.geopackage)
    report = {
        "geopackage": str(args.geopackage),
        "qgis_version": Qgis.version(),
        "gdal_version": gdal.__version__ if gdal is not None else None,
        "fonts": fonts,
        "dataset_messages": messages.take(),
        "layers": {
            name: inspect_layer(args.geopackage, name, args.out, args.size, messages)
            for name in names
        },
    }
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    sys.stdout.flush()
    if gdal is not None:
        gdal.SetErrorHandler(None)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
