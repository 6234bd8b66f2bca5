"""The GeoPackage for GIS colleagues: spatial layers, attribute tables, metadata, QGIS styles.

``carbon_balance.gpkg`` holds

- ``units``: one polygon per reporting unit with its zoning (``zone``, names, levels, indices);
- ``balance_<year>``: the units with every index of that year;
- attribute (non-spatial) tables ``carbon_balance``, ``landuse_areas``, ``statistics``,
  ``coefficients``;
- with ``[uncertainty]``: ``zone_stability``, the units with their modal zone, its share and
  each zone's share (categorized by ``modal_zone``), and the table ``zone_uncertainty``;
- dataset metadata in ``gpkg_metadata`` (study name, synthetic-data note, generator) and a
  description per layer in ``gpkg_contents``;
- a default QGIS style per spatial layer in ``layer_styles`` (QGIS's own table layout):
  categorized by ``zone`` for ``units``, graduated on ``balance_t`` for ``balance_<year>``.

Fields are plain numbers and strings only, so every GIS reads them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import pandas as pd
import pyogrio

from pipeline.model.constants import CLASS_NAMES_ZH, ZONE_NAMES_EN, ZONE_NAMES_ZH, ZONES
from pipeline.model.spatial import CLUSTERS, SpatialResult
from pipeline.model.uncertainty import INTERVAL_QUANTITIES, interval_columns, zoning_rows
from pipeline.outputs import classes as classification
from pipeline.outputs import spatial as spatial_outputs
from pipeline.outputs.labels import COLUMN_INFO, COLUMN_NAMES_ZH, INDICATORS, Indicator
from pipeline.outputs.provenance import Provenance, study_provenance
from pipeline.outputs.staging import StagedOutputs
from pipeline.outputs.tables import with_zone_names
from pipeline.runtime.files import space_hint
from pipeline.runtime.versions import pipeline_version
from pipeline.study.settings import Coefficients, MapSettings, Study, ZoningSettings

GEOPACKAGE_PATH = "data/processed/carbon_balance.gpkg"
GRADUATED_FIELD = "balance_t"
# GeoPackage 1.2: what GDAL 3.6 (QGIS 3.22/3.28 LTR) reads without "may only be partially
# supported"; newer GDAL writes 1.4 by default. Nothing here needs a newer version.
GPKG_VERSION = "1.2"
SQLITE_SYNCHRONOUS = "OGR_SQLITE_SYNCHRONOUS"  # GDAL's setting of SQLite's disk flushes
QML_VERSION = "3.22.0"
# QGIS names one label font; where it is not installed Qt falls back to a system font with
# the glyphs (Microsoft YaHei, PingFang SC, WenQuanYi, ...). The maps use the same font.
LABEL_FONT = "Noto Sans CJK SC"
# The coefficients table's own column meanings (its "unit" is the coefficient's unit).
COEFFICIENT_ALIASES = {
    "name": "系数",
    "land_class": "一级地类或地类代码",
    "value": "系数值",
    "unit": "单位",
    "source": "来源",
}
OUTLINE_RGB = "51,51,51,255"
LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


@dataclass(frozen=True)
class StyleRule:
    """One symbol class: a label, a fill colour and either a value or a (lower, upper] range."""

    label: str
    colour: str
    value: str | None = None
    lower: float | None = None
    upper: float | None = None


# --------------------------------------------------------------------------- tables


def units_layer(units: gpd.GeoDataFrame, zoning: pd.DataFrame) -> gpd.GeoDataFrame:
    """The units with their zoning (with ``basis = "year"``: the latest year's zoning)."""
    if "year" in zoning.columns:
        zoning = zoning[zoning["year"] == zoning["year"].max()]
    table = zoning.drop(columns=["zone_zh"], errors="ignore")
    layer = units[["unit", "geometry"]].merge(table, on="unit", how="left")
    return _with_zone_names(layer)


def balance_layers(units: gpd.GeoDataFrame, balance: pd.DataFrame) -> dict[str, gpd.GeoDataFrame]:
    """``balance_<year>``: the units with every column of the balance table for that year."""
    layers = {}
    for year, rows in balance.groupby("year", sort=True):
        layer = units[["unit", "geometry"]].merge(rows, on="unit", how="left")
        layers[f"balance_{int(year)}"] = _with_zone_names(layer)
    return layers


def _with_zone_names(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = with_zone_names(pd.DataFrame(frame))
    columns = [c for c in out.columns if c != "geometry"] + ["geometry"]
    return gpd.GeoDataFrame(out[columns], geometry="geometry", crs=frame.crs)


def statistics_table(balance: pd.DataFrame) -> pd.DataFrame:
    """The statistics the balance was computed from (population, GDP, energy)."""
    columns = ["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]
    return balance[columns].sort_values(["year", "unit"]).reset_index(drop=True)


def landuse_table(landuse_areas: pd.DataFrame) -> pd.DataFrame:
    """The land-use areas with the Chinese class name added."""
    table = landuse_areas.copy()
    table["class_zh"] = table["class"].map(CLASS_NAMES_ZH)
    return table


def coefficients_table(coefficients: Coefficients) -> pd.DataFrame:
    """One row per coefficient: ``name, land_class, value, unit``."""
    rows = [
        ("respiration", "", coefficients.respiration_t_per_10k_people, "t CO2 / 10^4 people"),
        ("energy", "", coefficients.energy_t_co2_per_tce, "t CO2 / tce"),
    ]
    rows += [
        ("sink", land_class, value, "t CO2 / ha")
        for land_class, value in coefficients.sink_t_per_ha.items()
    ]
    rows += [
        ("sink", str(code), value, "t CO2 / ha")
        for code, value in coefficients.sink_t_per_ha_by_code.items()
    ]
    table = pd.DataFrame(rows, columns=["name", "land_class", "value", "unit"])
    # land_class holds the class or, for a per-code coefficient, the code; source per sink row
    table["source"] = [
        coefficients.sink_source(key) if name == "sink" else ""
        for name, key in zip(table["name"], table["land_class"], strict=True)
    ]
    return table


def plain_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """Integers as int32/int64, text as str, floats as float64: no objects, no lists."""
    out = frame.copy()
    for column in out.columns:
        if column == "geometry":
            continue
        series = out[column]
        if pd.api.types.is_bool_dtype(series):
            out[column] = series.astype("int32")
        elif pd.api.types.is_integer_dtype(series):
            small = series.abs().max() < 2**31 if len(series) else True
            out[column] = series.astype("int32" if small else "int64")
        elif pd.api.types.is_float_dtype(series):
            out[column] = series.astype("float64")
        else:
            out[column] = series.map(lambda v: None if pd.isna(v) else str(v)).astype(object)
    return out


# --------------------------------------------------------------------------- styles


def zone_rules() -> list[StyleRule]:
    """One categorized rule per zone, labelled in Chinese and English."""
    return [
        StyleRule(f"{ZONE_NAMES_ZH[z]} / {ZONE_NAMES_EN[z]}", classification.ZONE_COLOURS[z], z)
        for z in ZONES
    ]


def balance_indicator() -> Indicator:
    """The mapped indicator the balance layers are graduated on (``balance_t``)."""
    return next(i for i in INDICATORS if i.column == GRADUATED_FIELD)


def graduated_rules(
    balance: pd.DataFrame, maps: MapSettings, zoning: ZoningSettings
) -> list[StyleRule]:
    """The balance maps' classes (shared by every year) as style rules on ``balance_t``.

    The bounds are in t CO2 (the field's unit); the labels in 万t CO2, as on the maps.
    """
    shared = classification.study_classes(balance, maps, zoning, columns={GRADUATED_FIELD})
    shared = shared[GRADUATED_FIELD]
    unit = balance_indicator().unit("zh")
    return [
        StyleRule(f"{label} {unit}", colour, lower=lower, upper=upper)
        for (lower, upper), label, colour in zip(
            itertools.pairwise(shared.column_edges()), shared.labels, shared.colours, strict=True
        )
    ]


def _rgba(colour: str) -> str:
    """QGIS's ``"r,g,b,a"`` of a ``#rrggbb`` colour (every colour of the styles is one)."""
    if len(colour) != 7 or not colour.startswith("#"):
        raise ValueError(f"style colour {colour!r} is not of the form #rrggbb")
    red, green, blue = bytes.fromhex(colour[1:])
    return f"{red},{green},{blue},255"


def _symbol_xml(name: str, colour: str) -> str:
    props = {
        "color": _rgba(colour),
        "outline_color": OUTLINE_RGB,
        "outline_style": "solid",
        "outline_width": "0.3",
        "outline_width_unit": "MM",
        "style": "solid",
        "joinstyle": "bevel",
    }
    options = "".join(f'<Option type="QString" name="{k}" value="{v}"/>' for k, v in props.items())
    old_props = "".join(f'<prop k="{k}" v="{v}"/>' for k, v in props.items())
    return (
        f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="SimpleFill" enabled="1" pass="0" locked="0">'
        f'<Option type="Map">{options}</Option>{old_props}</layer></symbol>'
    )


def _labeling_xml(field: str) -> str:
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName="{field}" fontFamily={quoteattr(LABEL_FONT)} '
        'namedStyle="Regular" fontWeight="50" fontItalic="0" fontSize="9" '
        'fontSizeUnit="Point" textColor="0,0,0,255" textOpacity="1" isExpression="0"/>'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferColor="255,255,255,255"/>'
        '<placement placement="1"/></settings></labeling>'
    )


def field_aliases(
    fields: Sequence[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Chinese field names with units (``区县``, ``碳收支(t)``) of ``fields`` that have one."""
    names = {**COLUMN_NAMES_ZH, **(overrides or {})}
    return {field: names[field] for field in fields if field in names}


def fields_xml(fields: Sequence[str], overrides: Mapping[str, str] | None = None) -> str:
    """QML ``<fieldConfiguration>`` (display precision of numbers) and ``<aliases>``."""
    aliases = field_aliases(fields, overrides)
    configured = []
    for field in fields:
        info = COLUMN_INFO.get(field)
        if info is None or info.decimals is None or field in (overrides or {}):
            continue
        options = (
            '<Option type="bool" name="AllowNull" value="true"/>'
            f'<Option type="int" name="Precision" value="{info.decimals}"/>'
            f'<Option type="double" name="Step" value="{10.0**-info.decimals!r}"/>'
            '<Option type="QString" name="Style" value="SpinBox"/>'
        )
        configured.append(
            f'<field name={quoteattr(field)} configurationFlags="None"><editWidget type="Range">'
            f'<config><Option type="Map">{options}</Option></config></editWidget></field>'
        )
    alias_items = "".join(
        f'<alias field={quoteattr(field)} index="{index}" name={quoteattr(aliases[field])}/>'
        for index, field in enumerate(fields)
        if field in aliases
    )
    return (
        f"<fieldConfiguration>{''.join(configured)}</fieldConfiguration>"
        f"<aliases>{alias_items}</aliases>"
    )


def _renderer_xml(field: str, rules: Sequence[StyleRule]) -> str:
    symbols = "".join(_symbol_xml(str(i), rule.colour) for i, rule in enumerate(rules))
    if all(rule.value is not None for rule in rules):
        items = "".join(
            f'<category render="true" symbol="{i}" value={quoteattr(str(rule.value))} '
            f"label={quoteattr(rule.label)}/>"
            for i, rule in enumerate(rules)
        )
        return (
            f'<renderer-v2 type="categorizedSymbol" attr="{field}" symbollevels="0" '
            f'enableorderby="0" forceraster="0"><categories>{items}</categories>'
            f"<symbols>{symbols}</symbols></renderer-v2>"
        )
    items = "".join(
        f'<range render="true" symbol="{i}" lower="{rule.lower!r}" upper="{rule.upper!r}" '
        f"label={quoteattr(rule.label)}/>"
        for i, rule in enumerate(rules)
    )
    return (
        f'<renderer-v2 type="graduatedSymbol" attr="{field}" graduatedMethod="GraduatedColor" '
        f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{items}</ranges>'
        f'<symbols>{symbols}</symbols><classificationMethod id="Custom"/></renderer-v2>'
    )


def qml(
    field: str,
    rules: Sequence[StyleRule],
    *,
    label_field: str = "unit",
    fields: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> str:
    """A QGIS style (QML): categorized when the rules have values, else graduated.

    ``fields`` (the layer's fields in order) get Chinese aliases (``aliases`` adds to them)
    and a display precision.
    """
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QML_VERSION}" styleCategories="Symbology|Labeling|Fields|Forms">'
        f"{fields_xml(fields, aliases)}{_renderer_xml(field, rules)}{_labeling_xml(label_field)}"
        "<layerGeometryType>2</layerGeometryType></qgis>"
    )


def table_qml(fields: Sequence[str], overrides: Mapping[str, str] | None = None) -> str:
    """A QGIS style for an attribute table: Chinese aliases and display precision only."""
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QML_VERSION}" styleCategories="Fields|Forms">'
        f"{fields_xml(fields, overrides)}<layerGeometryType>4</layerGeometryType></qgis>"
    )


def sld(layer: str, field: str, rules: Sequence[StyleRule]) -> str:
    """The same style as OGC SLD 1.1 (for GIS other than QGIS)."""
    parts = []
    for rule in rules:
        if rule.value is not None:
            condition = (
                f"<ogc:PropertyIsEqualTo><ogc:PropertyName>{field}</ogc:PropertyName>"
                f"<ogc:Literal>{escape(rule.value)}</ogc:Literal></ogc:PropertyIsEqualTo>"
            )
        else:
            condition = (
                f"<ogc:PropertyIsBetween><ogc:PropertyName>{field}</ogc:PropertyName>"
                f"<ogc:LowerBoundary><ogc:Literal>{rule.lower!r}</ogc:Literal></ogc:LowerBoundary>"
                f"<ogc:UpperBoundary><ogc:Literal>{rule.upper!r}</ogc:Literal></ogc:UpperBoundary>"
                "</ogc:PropertyIsBetween>"
            )
        parts.append(
            f"<se:Rule><se:Name>{escape(rule.label)}</se:Name><ogc:Filter>{condition}</ogc:Filter>"
            f'<se:PolygonSymbolizer><se:Fill><se:SvgParameter name="fill">{rule.colour}'
            '</se:SvgParameter></se:Fill><se:Stroke><se:SvgParameter name="stroke">#333333'
            '</se:SvgParameter><se:SvgParameter name="stroke-width">1</se:SvgParameter>'
            "</se:Stroke></se:PolygonSymbolizer></se:Rule>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld" '
        'xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se">'
        f"<NamedLayer><se:Name>{escape(layer)}</se:Name><UserStyle><se:Name>{escape(layer)}"
        f"</se:Name><se:FeatureTypeStyle>{''.join(parts)}</se:FeatureTypeStyle></UserStyle>"
        "</NamedLayer></StyledLayerDescriptor>"
    )


# --------------------------------------------------------------------------- writing


def dataset_metadata(study_name: str, provenance: Provenance) -> dict[str, str]:
    """Dataset-level metadata (stored by GDAL in ``gpkg_metadata``)."""
    sources = [provenance.landuse, provenance.statistics]
    if provenance.boundaries:
        sources.insert(0, provenance.boundaries)
    note = (
        "SYNTHETIC / reconstructed demo data (合成数据): " + ", ".join(provenance.synthetic_inputs)
        if provenance.synthetic
        else "no input is flagged synthetic"
    )
    return {
        "TITLE": study_name,
        "STUDY": study_name,
        "SYNTHETIC": "yes" if provenance.synthetic else "no",
        "DATA_NOTE": note,
        "SOURCES": "; ".join(sources),
        "GENERATOR": f"carbon-balance-zoning {pipeline_version()}",
        "CREATED": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "UNITS": "emission, sink, balance: t CO2/yr; area: ha; intensities: t CO2/ha",
    }


def _write_layer(
    path: Path,
    frame: pd.DataFrame,
    layer: str,
    description: str,
    dataset_tags: Mapping[str, str] | None = None,
) -> None:
    kwargs: dict[str, object] = {}
    if dataset_tags is not None:  # the first layer creates the file
        kwargs["dataset_metadata"] = dict(dataset_tags)
        kwargs["dataset_options"] = {"VERSION": GPKG_VERSION}
    pyogrio.write_dataframe(
        plain_fields(frame),
        path,
        layer=layer,
        driver="GPKG",
        promote_to_multi=True,
        layer_options={"DESCRIPTION": description, "IDENTIFIER": layer},
        **kwargs,
    )


def write_styles(path: Path, styles: Mapping[str, tuple[str, str, str | None]]) -> None:
    """Add ``layer_styles`` rows (``layer -> (description, qml, sld)``), each the default.

    Attribute tables (no geometry column) are stored with an empty ``f_geometry_column``,
    which is how QGIS looks their default style up.
    """
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA synchronous = OFF")  # see _unsynchronised_sqlite
        connection.execute(LAYER_STYLES_DDL)
        geometry_columns = dict(
            connection.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
        )
        for layer, (description, style_qml, style_sld) in styles.items():
            connection.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'carbon-balance-zoning', NULL)",
                (layer, geometry_columns.get(layer, ""), layer, style_qml, style_sld, description),
            )
        connection.execute(
            "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, "
            "description, last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
            "'QGIS layer styles', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        )
    connection.close()


def write_geopackage(
    path: Path,
    *,
    study_name: str,
    units: gpd.GeoDataFrame,
    balance: pd.DataFrame,
    zoning: pd.DataFrame,
    landuse_areas: pd.DataFrame,
    coefficients: Coefficients,
    provenance: Provenance,
    maps: MapSettings | None = None,
    zoning_settings: ZoningSettings | None = None,
    uncertainty: pd.DataFrame | None = None,
    extra_tables: Mapping[str, tuple[pd.DataFrame, str]] | None = None,
    spatial: SpatialResult | None = None,
) -> None:
    """Write the whole GeoPackage to ``path``; ``extra_tables`` (name -> (frame,
    description)) are added as attribute tables (the land-use transitions).

    It is built beside ``path`` under a ``.gpkg`` name (GDAL wants the extension) and renamed
    to ``path`` when complete, so ``path`` may be a staging name such as ``.x.gpkg.123.tmp``.
    """
    work = path.with_name(path.name + ".gpkg")
    work.unlink(missing_ok=True)
    try:
        with _unsynchronised_sqlite():
            _write_work_file(
                work, study_name=study_name, units=units, balance=balance, zoning=zoning,
                landuse_areas=landuse_areas, coefficients=coefficients, provenance=provenance,
                maps=maps, zoning_settings=zoning_settings, uncertainty=uncertainty,
                extra_tables=extra_tables, spatial=spatial,
            )  # fmt: skip
        os.replace(work, path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, sqlite3.Error) as error:
        # e.g. the disk is full: GDAL and SQLite report it in their own exception types
        hint = space_hint(path.parent)
        raise OSError(
            f"GDAL/SQLite cannot write the GeoPackage: {error}; {hint} (a full disk?)"
        ) from error
    finally:
        work.unlink(missing_ok=True)  # only left behind when writing failed


@contextlib.contextmanager
def _unsynchronised_sqlite() -> Iterator[None]:
    """GDAL's SQLite without a disk flush (``fsync``) per transaction, for the body.

    Writing the layers one by one, GDAL commits several transactions per layer, each
    flushed to disk: most of the GeoPackage's time on a busy disk. The file is built
    under a work name and renamed only when complete, like every other output (none of
    which is flushed either), so a crash never leaves a half-written GeoPackage in place.
    """
    previous = pyogrio.get_gdal_config_option(SQLITE_SYNCHRONOUS)
    pyogrio.set_gdal_config_options({SQLITE_SYNCHRONOUS: "OFF"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({SQLITE_SYNCHRONOUS: previous})


def _write_work_file(
    work: Path,
    *,
    study_name: str,
    units: gpd.GeoDataFrame,
    balance: pd.DataFrame,
    zoning: pd.DataFrame,
    landuse_areas: pd.DataFrame,
    coefficients: Coefficients,
    provenance: Provenance,
    maps: MapSettings | None,
    zoning_settings: ZoningSettings | None,
    uncertainty: pd.DataFrame | None,
    extra_tables: Mapping[str, tuple[pd.DataFrame, str]] | None,
    spatial: SpatialResult | None,
) -> None:
    """Every layer, table and style of the GeoPackage, written to ``work``."""
    note = "" if not provenance.synthetic else " SYNTHETIC demo data (合成数据)."
    layer = units_layer(units, zoning)
    description = f"{study_name}: carbon-balance zoning per unit.{note}"
    _write_layer(work, layer, "units", description, dataset_metadata(study_name, provenance))
    zones = zone_rules()
    styles: dict[str, tuple[str, str, str | None]] = {
        "units": (
            "categorized on zone",
            qml("zone", zones, fields=_fields(layer)),
            sld("units", "zone", zones),
        )
    }
    rules = graduated_rules(  # the maps' classes, shared by every year
        balance, maps or MapSettings(), zoning_settings or ZoningSettings()
    )
    for name, frame in balance_layers(units, balance).items():
        _write_layer(work, frame, name, f"{study_name}: carbon balance {name[-4:]}.{note}")
        styles[name] = (
            f"graduated on {GRADUATED_FIELD}, classes shared by every year (万t CO2)",
            qml(GRADUATED_FIELD, rules, fields=_fields(frame)),
            sld(name, GRADUATED_FIELD, rules),
        )
    if uncertainty is not None:
        basis = (zoning_settings or ZoningSettings()).basis
        stability = stability_layer(units, uncertainty, basis)
        _write_layer(work, stability, "zone_stability",
                     f"{study_name}: modal zone over the coefficient draws.{note}")  # fmt: skip
        styles["zone_stability"] = (
            "categorized on modal_zone",
            qml("modal_zone", zones, fields=_fields(stability)),
            sld("zone_stability", "modal_zone", zones),
        )
    styles |= _write_lisa_layers(work, units, spatial, f"{study_name}: ", note)
    tables = attribute_tables(balance, landuse_areas, coefficients, uncertainty)
    tables |= dict(extra_tables or {})
    tables |= spatial_tables(spatial)
    for name, (frame, description) in tables.items():
        _write_layer(work, frame, name, f"{study_name}: {description}.{note}")
        overrides = COEFFICIENT_ALIASES if name == "coefficients" else None
        styles[name] = ("field names and precision", table_qml(_fields(frame), overrides), None)
    write_styles(work, styles)


def stability_layer(
    units: gpd.GeoDataFrame, uncertainty: pd.DataFrame, basis: str
) -> gpd.GeoDataFrame:
    """The units with their modal zone and zone shares (``basis = "year"``: the latest year,
    as ``units``); the intervals per year are in the ``zone_uncertainty`` table."""
    rows = zoning_rows(uncertainty, basis)
    if "year" in rows.columns:
        rows = rows[rows["year"] == rows["year"].max()]
    interval = [c for q in INTERVAL_QUANTITIES for c in interval_columns(q)]
    table = rows.drop(columns=[*interval, "modal_zone_zh", "modal_zone_en"])
    layer = units[["unit", "geometry"]].merge(table, on="unit", how="left")
    at = list(layer.columns).index("modal_zone") + 1
    layer.insert(at, "modal_zone_en", layer["modal_zone"].map(ZONE_NAMES_EN))
    layer.insert(at, "modal_zone_zh", layer["modal_zone"].map(ZONE_NAMES_ZH))
    return _with_zone_names(layer)


def _write_lisa_layers(
    work: Path, units: gpd.GeoDataFrame, spatial: SpatialResult | None, prefix: str, note: str
) -> dict[str, tuple[str, str, str | None]]:
    """``lisa_<year>`` layers (when the spatial statistics were computed) and their styles."""
    if spatial is None or not spatial.computed:
        return {}
    styles = {}
    rules = lisa_rules()
    aliases = spatial_outputs.field_aliases()
    for name, frame in spatial_outputs.lisa_layers(units, spatial.lisa).items():
        field = spatial_outputs.layer_field(frame)
        description = f"{prefix}LISA clusters {name[-4:]} (Queen, p < 0.05).{note}"
        _write_layer(work, frame, name, description)
        styles[name] = (
            f"categorized on {field} (LISA cluster)",
            qml(field, rules, fields=_fields(frame), aliases=aliases),
            sld(name, field, rules),
        )
    return styles


def lisa_rules() -> list[StyleRule]:
    """One categorized rule per LISA cluster in the conventional colours."""
    name = spatial_outputs.cluster_name
    return [
        StyleRule(f"{name(c, 'zh')} / {name(c, 'en')}", spatial_outputs.CLUSTER_COLOURS[c], c)
        for c in CLUSTERS
    ]


def attribute_tables(
    balance: pd.DataFrame,
    landuse_areas: pd.DataFrame,
    coefficients: Coefficients,
    uncertainty: pd.DataFrame | None = None,
) -> dict[str, tuple[pd.DataFrame, str]]:
    """The non-spatial tables by layer name, each with a description."""
    tables = {
        "carbon_balance": (
            with_zone_names(balance),
            "carbon balance per unit and year (t CO2, ha, t CO2/ha)",
        ),
        "landuse_areas": (landuse_table(landuse_areas), "land-use area per unit, year, code (ha)"),
        "statistics": (statistics_table(balance), "population, GDP and energy per unit and year"),
        "coefficients": (coefficients_table(coefficients), "model coefficients"),
    }
    if uncertainty is not None:
        tables["zone_uncertainty"] = (
            with_zone_names(uncertainty),
            "zone probabilities and 90 % intervals over the coefficient draws",
        )
    return tables


def spatial_tables(spatial: SpatialResult | None) -> dict[str, tuple[pd.DataFrame, str]]:
    """The spatial statistics' attribute tables (none when they were not computed)."""
    if spatial is None or not spatial.computed:
        return {}
    return {
        "spatial_autocorrelation": (
            spatial.global_moran,
            "global Moran's I per indicator and year (Queen contiguity, permutation test)",
        ),
        "lisa_clusters": (spatial.lisa, "LISA cluster per unit, year and indicator"),
    }


def _fields(frame: pd.DataFrame) -> list[str]:
    """The layer's attribute fields in order (the geometry column is not a field)."""
    return [str(column) for column in frame.columns if column != "geometry"]


def stage_geopackage(
    staged: StagedOutputs,
    study: Study,
    *,
    units: gpd.GeoDataFrame,
    balance: pd.DataFrame,
    zoning: pd.DataFrame,
    landuse_areas: pd.DataFrame,
    uncertainty: pd.DataFrame | None = None,
    extra_tables: Mapping[str, tuple[pd.DataFrame, str]] | None = None,
    spatial: SpatialResult | None = None,
) -> None:
    """Stage ``data/processed/carbon_balance.gpkg`` with the run's other outputs."""
    provenance = study_provenance(study)
    staged.write(
        GEOPACKAGE_PATH,
        lambda path: write_geopackage(
            path,
            study_name=study.name,
            units=units,
            balance=balance,
            zoning=zoning,
            landuse_areas=landuse_areas,
            coefficients=study.coefficients,
            provenance=provenance,
            maps=study.maps,
            zoning_settings=study.zoning,
            uncertainty=uncertainty,
            extra_tables=extra_tables,
            spatial=spatial,
        ),
    )
