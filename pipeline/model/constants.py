"""The method's fixed vocabulary: land classes, zones, levels, their names, default values.

Everything a rule of the method refers to by name lives here once; settings, views and
exports import it from here.
"""

from __future__ import annotations

BUILTIN_SCHEMES: tuple[str, ...] = ("resdc", "clcd", "esa_worldcover", "modis_igbp")
"""Land-use schemes shipped in ``pipeline/data/schemes/`` (docs/schemes.md)."""

LAND_CLASSES: tuple[str, ...] = (
    "cropland",
    "forest",
    "grassland",
    "water",
    "built_up",
    "unused",
    "other",
)
CLASS_NAMES_ZH: dict[str, str] = {
    "cropland": "耕地",
    "forest": "林地",
    "grassland": "草地",
    "water": "水域",
    "built_up": "建设用地",
    "unused": "未利用地",
    "other": "其他",
}
CLASS_NAMES_EN: dict[str, str] = {
    "cropland": "Cropland",
    "forest": "Forest",
    "grassland": "Grassland",
    "water": "Water",
    "built_up": "Built-up",
    "unused": "Unused",
    "other": "Other",
}

# The paper's sink coefficients (t CO₂ / ha / year), its Table 1.
DEFAULT_SINK_T_PER_HA: dict[str, float] = {
    "cropland": 1.16,
    "forest": 3.55,
    "grassland": 0.021,
    "water": 2.56,
    "built_up": 0.0,
    "unused": 0.0,
    "other": 0.0,
}
DEFAULT_SINK_SOURCE = "《贵阳市碳平衡分区特征研究》 (2023), Table 1; DOI 10.12677/AEP.2023.132046"
DEFAULT_RESPIRATION_T_PER_10K_PEOPLE = 3285.0
DEFAULT_ENERGY_T_CO2_PER_TCE = 2.66

ZONES: tuple[str, ...] = (
    "intensity_control",
    "budget_balance",
    "sink_function",
    "low_carbon_optimisation",
)
ZONE_NAMES_ZH: dict[str, str] = {
    "intensity_control": "碳强度控制区",
    "budget_balance": "碳收支平衡区",
    "sink_function": "碳汇功能区",
    "low_carbon_optimisation": "低碳优化区",
}
ZONE_NAMES_EN: dict[str, str] = {
    "intensity_control": "Carbon intensity control",
    "budget_balance": "Carbon budget balance",
    "sink_function": "Carbon sink function",
    "low_carbon_optimisation": "Low-carbon optimisation",
}
LEVELS: tuple[str, ...] = ("low", "medium", "high")
LEVEL_NAMES_ZH: dict[str, str] = {"low": "低", "medium": "中", "high": "高"}
DEFAULT_ZONE_MATRIX: dict[str, tuple[tuple[str, str], ...]] = {
    "intensity_control": (("high", "low"), ("medium", "low")),
    "budget_balance": (("high", "medium"), ("high", "high"), ("medium", "medium")),
    "sink_function": (("medium", "high"), ("low", "high")),
    "low_carbon_optimisation": (("low", "low"), ("low", "medium")),
}
DEFAULT_EEC_BREAKS: tuple[float, float] = (0.5, 1.0)
DEFAULT_SEC_BREAKS: tuple[float, float] = (1.0, 2.0)
EEC_DEFINITIONS: tuple[str, ...] = ("gdp_over_emission", "emission_over_gdp")
ZONING_BASES: tuple[str, ...] = ("mean", "year")

SQUARE_M_PER_HA = 10_000.0  # 1 ha = 10⁴ m²
T_PER_10K_T = 1e-4  # t × 1e-4 = 10⁴ t (万吨), the unit of the paper's tables

# [uncertainty]: the names of the non-sink coefficients a distribution may be given for (the
# sink coefficients go by their land class or scheme code, as in [coefficients] sink_t_per_ha).
RESPIRATION_KEY = "respiration"  # t CO₂ per 10⁴ people
ENERGY_FACTOR_KEY = "energy_factor"  # t CO₂ per tce
DEFAULT_UNCERTAINTY_DRAWS = 1000
MIN_UNCERTAINTY_DRAWS = 10  # fewer draws make the 5 % and 95 % points meaningless
MAX_UNCERTAINTY_DRAWS = 10_000  # memory: draws × unit-years × 8 bytes per drawn quantity
DEFAULT_UNCERTAINTY_SEED = 0
UNCERTAINTY_QUANTILES: tuple[float, float] = (0.05, 0.95)  # the 90 % interval
