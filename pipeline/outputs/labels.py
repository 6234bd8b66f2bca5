"""Every word a user reads on a map, chart, table header or report, in 中文 and English.

Also the mapped indicators (title, unit, scale and palette per column) and the text helpers
that lay words out (CJK characters count as two columns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.model.constants import T_PER_10K_T, ZONE_NAMES_EN, ZONE_NAMES_ZH, ZONES
from pipeline.model.uncertainty import INTERVAL_QUANTITIES, interval_columns, probability_column

COLUMN_NAMES_ZH: dict[str, str] = {
    "unit": "区县",
    "year": "年份",
    "code": "地类代码",
    "code_name": "地类名称",
    "class": "一级地类",
    "area_ha": "面积(hm²)",
    "pixels": "像元数",
    "population_10k": "常住人口(万人)",
    "gdp_100m_yuan": "地区生产总值(亿元)",
    "energy_tce": "能源消费总量(吨标准煤)",
    "emission_respiration_t": "人口呼吸碳排放(t)",
    "emission_energy_t": "能源碳排放(t)",
    "emission_t": "碳排放总量(t)",
    "sink_t": "碳汇总量(t)",
    "balance_t": "碳收支(t)",
    "emission_intensity_t_per_ha": "碳排放强度(t/hm²)",
    "sink_intensity_t_per_ha": "碳汇强度(t/hm²)",
    "eec": "碳排放经济贡献率",
    "sec": "碳吸收生态贡献率",
    "compensation_rate": "碳补偿率",
    "eec_level": "经济贡献率等级",
    "sec_level": "生态贡献率等级",
    "zone": "分区代码",
    "zone_zh": "碳平衡分区",
    "zone_en": "碳平衡分区(英文)",
    "class_zh": "一级地类(中文)",
    "year_from": "起始年份",
    "year_to": "终止年份",
    "code_from": "转出地类代码",
    "class_from": "转出地类",
    "code_to": "转入地类代码",
    "class_to": "转入地类",
    "sink_from_t_per_ha": "转出地类碳汇系数(t/hm²)",
    "sink_to_t_per_ha": "转入地类碳汇系数(t/hm²)",
    "sink_change_t": "碳汇变化(t)",
    "period_years": "间隔年数",
    "area_from_ha": "起始面积(hm²)",
    "area_to_ha": "终止面积(hm²)",
    "change_ha": "面积变化(hm²)",
    "single_dynamic_degree_pct_per_year": "单一土地利用动态度(%/a)",
    "land_ha": "两年均有效面积(hm²)",
    "changed_ha": "转移面积(hm²)",
    "comprehensive_dynamic_degree_pct_per_year": "综合土地利用动态度(%/a)",
    "gained_from_nodata_ha": "由无数据转入(hm²)",
    "lost_to_nodata_ha": "转为无数据(hm²)",
    # spatial_autocorrelation.csv and lisa_clusters.csv
    "indicator": "指标",
    "column": "指标列",
    "moran_i": "全局莫兰指数 I",
    "expected_i": "I 期望值 E[I]",
    "z": "Z 值(置换)",
    "p_sim": "P 值(置换)",
    "p_norm": "P 值(正态近似)",
    "permutations": "置换次数",
    "seed": "随机种子",
    "units": "参与单元数",
    "islands": "无相邻单元数",
    "significant": "显著(p<0.05)",
    "value": "指标值",
    "local_i": "局部莫兰指数 Ii",
    "quadrant": "LISA 类型代码",
    "cluster_zh": "LISA 聚集类型",
    "cluster_en": "LISA 聚集类型(英文)",
}


@dataclass(frozen=True)
class ColumnInfo:
    """What a table column holds: its unit, the decimals shown, and what it means (中/En)."""

    unit: str
    decimals: int | None  # None: text, or an integer shown without thousands separators
    meaning: str


# One entry per column of COLUMN_NAMES_ZH: the workbook's 说明 sheet, the QGIS field
# precision and the number formats of the workbook come from here.
COLUMN_INFO: dict[str, ColumnInfo] = {
    "unit": ColumnInfo("", None, "报告单元(区县)名称 / reporting unit (county)"),
    "year": ColumnInfo("", None, "年份 / year"),
    "code": ColumnInfo("", None, "土地利用分类代码 / land-use class code of the scheme"),
    "code_name": ColumnInfo("", None, "地类代码的名称 / name of the land-use code"),
    "class": ColumnInfo("", None, "一级地类 id / first-level land class id"),
    "area_ha": ColumnInfo("hm²", 1, "面积 / area (1 hm² = 1 ha)"),
    "pixels": ColumnInfo("像元", 0, "计数的栅格像元数 / raster pixels counted"),
    "population_10k": ColumnInfo("万人", 2, "常住人口 / resident population (10⁴ people)"),
    "gdp_100m_yuan": ColumnInfo("亿元", 2, "地区生产总值 / GDP (10⁸ yuan)"),
    "energy_tce": ColumnInfo("t 标准煤", 0, "能源消费总量 / energy use (t coal equivalent)"),
    "emission_respiration_t": ColumnInfo(
        "t CO₂/a", 0, "人口呼吸排放 = 常住人口 × 系数 / respiration = population × coefficient"
    ),
    "emission_energy_t": ColumnInfo(
        "t CO₂/a", 0, "能源排放 = 能源消费 × 系数 / energy emission = energy use × coefficient"
    ),
    "emission_t": ColumnInfo("t CO₂/a", 0, "碳排放总量 E / total emission E"),
    "sink_t": ColumnInfo(
        "t CO₂/a", 0, "碳汇总量 A = Σ 系数 × 面积 / sink A = Σ coefficient × area"
    ),
    "balance_t": ColumnInfo("t CO₂/a", 0, "碳收支 E − A (正值为净排放) / balance E − A"),
    "emission_intensity_t_per_ha": ColumnInfo(
        "t CO₂/hm²", 2, "碳排放强度 = E / 面积 / emission per hectare"
    ),
    "sink_intensity_t_per_ha": ColumnInfo("t CO₂/hm²", 2, "碳汇强度 = A / 面积 / sink per hectare"),
    "eec": ColumnInfo("", 3, "碳排放经济贡献率 EEC / economic contribution coefficient"),
    "sec": ColumnInfo("", 3, "碳吸收生态贡献率 SEC / ecological support coefficient"),
    "compensation_rate": ColumnInfo(
        "", 4, "碳补偿率 = 碳汇 / 碳排放 (1 为完全抵消) / compensation rate = sink / emission"
    ),
    "eec_level": ColumnInfo("", None, "EEC 等级 low/medium/high / EEC level"),
    "sec_level": ColumnInfo("", None, "SEC 等级 low/medium/high / SEC level"),
    "zone": ColumnInfo("", None, "碳平衡分区 id / zone id"),
    "zone_zh": ColumnInfo("", None, "碳平衡分区名称 / zone name (Chinese)"),
    "zone_en": ColumnInfo("", None, "碳平衡分区英文名 / zone name (English)"),
    "class_zh": ColumnInfo("", None, "一级地类中文名 / land class (Chinese)"),
    "year_from": ColumnInfo("", None, "转移的起始年份 / earlier year of the transition"),
    "year_to": ColumnInfo("", None, "转移的终止年份 / later year of the transition"),
    "code_from": ColumnInfo(
        "", None, "起始年份的地类代码 (-1 = 无数据) / code in the earlier year (-1 = nodata)"
    ),
    "class_from": ColumnInfo(
        "", None, "起始年份的一级地类 (nodata = 无数据) / class in the earlier year"
    ),
    "code_to": ColumnInfo(
        "", None, "终止年份的地类代码 (-1 = 无数据) / code in the later year (-1 = nodata)"
    ),
    "class_to": ColumnInfo(
        "", None, "终止年份的一级地类 (nodata = 无数据) / class in the later year"
    ),
    "sink_from_t_per_ha": ColumnInfo(
        "t CO₂/hm²/a", 3, "起始地类的碳汇系数 / sink coefficient of the earlier code"
    ),
    "sink_to_t_per_ha": ColumnInfo(
        "t CO₂/hm²/a", 3, "终止地类的碳汇系数 / sink coefficient of the later code"
    ),
    "sink_change_t": ColumnInfo(
        "t CO₂/a",
        1,
        "碳汇变化 = (转入系数 − 转出系数) × 面积 (正值为碳汇增加；无数据为空) / "
        "sink change = (coefficient_to − coefficient_from) × area (positive: more sink)",
    ),
    "period_years": ColumnInfo("a", None, "两年份之间的年数 T / years between the two years T"),
    "area_from_ha": ColumnInfo("hm²", 1, "起始年份面积 U_a / area in the earlier year U_a"),
    "area_to_ha": ColumnInfo("hm²", 1, "终止年份面积 U_b / area in the later year U_b"),
    "change_ha": ColumnInfo("hm²", 1, "面积变化 U_b − U_a / area change U_b − U_a"),
    "single_dynamic_degree_pct_per_year": ColumnInfo(
        "%/a",
        3,
        "单一动态度 K = (U_b − U_a) / U_a / T × 100% / single dynamic degree K",
    ),
    "land_ha": ColumnInfo(
        "hm²", 1, "两年均为有效数据的面积 Σ LU_i / land valid in both years Σ LU_i"
    ),
    "changed_ha": ColumnInfo(
        "hm²", 1, "地类发生转移的面积 Σ ΔLU_i-j / land that changed class Σ ΔLU_i-j"
    ),
    "comprehensive_dynamic_degree_pct_per_year": ColumnInfo(
        "%/a",
        3,
        "综合动态度 LC = Σ ΔLU_i-j / (2 Σ LU_i) / T × 100% / comprehensive dynamic degree LC",
    ),
    "gained_from_nodata_ha": ColumnInfo(
        "hm²", 1, "起始年份无数据、终止年份有数据 / nodata earlier, land later"
    ),
    "lost_to_nodata_ha": ColumnInfo(
        "hm²", 1, "起始年份有数据、终止年份无数据 / land earlier, nodata later"
    ),
    "indicator": ColumnInfo(
        "", None, "检验的指标 id (碳排放强度、碳汇强度、碳收支、碳补偿率、EEC、SEC) / indicator"
    ),
    "column": ColumnInfo("", None, "指标在 carbon_balance 中的列 / column of carbon_balance"),
    "moran_i": ColumnInfo(
        "", 4, "全局莫兰指数 (Queen 邻接, 行标准化) / global Moran's I (Queen, row-standardised)"
    ),
    "expected_i": ColumnInfo("", 4, "无空间自相关时的期望 −1/(n−1) / expected I, −1/(n−1)"),
    "z": ColumnInfo("", 3, "相对置换分布的 Z 值 / z-score against the permutations"),
    "p_sim": ColumnInfo("", 4, "置换检验伪 P 值 / pseudo p-value of the permutation test"),
    "p_norm": ColumnInfo("", 4, "正态近似 P 值 (双侧) / p-value under normality (two-sided)"),
    "permutations": ColumnInfo("", 0, "条件置换次数 / conditional permutations"),
    "seed": ColumnInfo("", None, "置换检验的随机种子 ([analysis] seed) / random seed"),
    "units": ColumnInfo("", 0, "有相邻单元、参与检验的单元数 / units in the test"),
    "islands": ColumnInfo("", 0, "无相邻单元、未参与检验的单元数 / units without neighbours"),
    "significant": ColumnInfo("", None, "p_sim < 0.05 是否显著 / significant at 0.05"),
    "value": ColumnInfo("", 4, "该单元该年的指标值 (单位见指标列) / the indicator's value"),
    "local_i": ColumnInfo("", 4, "局部莫兰指数 / local Moran's Ii (LISA)"),
    "quadrant": ColumnInfo(
        "", None, "HH 高-高, LL 低-低, LH 低-高, HL 高-低 (p<0.05), ns 不显著, island 无相邻单元"
    ),
    "cluster_zh": ColumnInfo("", None, "LISA 聚集类型中文名 / LISA cluster (Chinese)"),
    "cluster_en": ColumnInfo("", None, "LISA 聚集类型英文名 / LISA cluster (English)"),
}

# zone_uncertainty ([uncertainty]): the modal zone, each zone's share, the 90 % intervals.
_QUANTITY_ZH = {"emission_t": "碳排放总量", "sink_t": "碳汇总量", "balance_t": "碳收支",
                "eec": "碳排放经济贡献率", "sec": "碳吸收生态贡献率"}  # fmt: skip
COLUMN_NAMES_ZH |= {
    "modal_zone": "众数分区代码",
    "modal_zone_zh": "众数分区",
    "modal_zone_en": "众数分区(英文)",
    "modal_probability": "众数分区概率",
    "draws": "抽样次数",
    **{probability_column(z): f"{ZONE_NAMES_ZH[z]}概率" for z in ZONES},
}
COLUMN_INFO |= {
    "modal_zone": ColumnInfo("", None, "抽样中最常见的分区 id / most frequent zone over the draws"),
    "modal_zone_zh": ColumnInfo("", None, "众数分区名称 / modal zone name (Chinese)"),
    "modal_zone_en": ColumnInfo("", None, "众数分区英文名 / modal zone name (English)"),
    "modal_probability": ColumnInfo(
        "", 3, "落入众数分区的抽样比例 / share of draws in the modal zone"
    ),
    "draws": ColumnInfo("", None, "系数抽样组数 / coefficient sets drawn"),
    **{
        probability_column(z): ColumnInfo(
            "", 3, f"落入{ZONE_NAMES_ZH[z]}的抽样比例 / share of draws in {ZONE_NAMES_EN[z]}"
        )
        for z in ZONES
    },
}
for _quantity in INTERVAL_QUANTITIES:
    for _column, _point in zip(interval_columns(_quantity), ("5", "95"), strict=True):
        _unit = COLUMN_INFO[_quantity].unit
        COLUMN_NAMES_ZH[_column] = f"{_QUANTITY_ZH[_quantity]}{_point}%分位" + (
            f"({_unit.removesuffix('/a')})" if _unit else ""
        )
        COLUMN_INFO[_column] = ColumnInfo(
            _unit, COLUMN_INFO[_quantity].decimals,
            f"{_QUANTITY_ZH[_quantity]}抽样的 {_point}% 分位数 / {_point} % point of {_quantity} "
            "over the draws",
        )  # fmt: skip

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "zoning": "碳平衡分区",
        "zone_legend": "分区",
        "north": "北",
        "scatter": "碳排放经济贡献率与碳吸收生态贡献率",
        "mean": "多年均值",
        "landuse": "土地利用结构",
        "share": "面积占比 (%)",
        "emission_bars": "碳排放构成",
        "sink_bars": "碳汇构成",
        "energy": "能源消费",
        "respiration": "人口呼吸",
        "emission_axis": "碳排放 (万t CO₂)",
        "sink_axis": "碳汇 (万t CO₂)",
        "bars": "碳排放与碳汇构成",
        "sources": "数据来源",
        "boundaries": "行政边界",
        "outlines": "省界",
        "landuse_source": "土地利用",
        "statistics": "社会经济统计",
        "projection": "投影：Albers 等积圆锥投影 (标准纬线 25°N、47°N，中央经线 105°E)",
        "synthetic": "注意：演示数据为合成/重建数据 (synthetic)，"
        "非官方统计或 RESDC 数据，仅供方法演示",
        "no_data": "无数据",
        "centre": "色带中值",
        "truncated": "仅显示{measure}最大和最小的各 {shown} 个单元 (共 {total} 个)；"
        "完整数据见 {table}",
        "by_area": "面积",
        "by_emission": "碳排放",
        "by_sink": "碳汇",
        "stability": "分区稳定性",
        "certainty_legend": "落入该分区的抽样比例",
        "stable": "稳定 ≥ 90%",
        "likely": "较稳定 60–90%",
        "unstable": "不稳定 < 60%",
        "modal_zone": "众数分区",
        "lisa": "LISA 局部空间自相关聚集图",
        "lisa_legend": "LISA 聚集类型 (p < {p:g})",
    },
    "en": {
        "zoning": "Carbon-balance zoning",
        "zone_legend": "Zone",
        "north": "N",
        "scatter": "Economic (EEC) and ecological (SEC) contribution coefficients",
        "mean": "mean of years",
        "landuse": "Land-use composition",
        "share": "share of area (%)",
        "emission_bars": "Emission by source",
        "sink_bars": "Sink by land class",
        "energy": "Energy use",
        "respiration": "Respiration",
        "emission_axis": "emission (10⁴ t CO₂)",
        "sink_axis": "sink (10⁴ t CO₂)",
        "bars": "Carbon emission and sink by component",
        "sources": "Sources",
        "boundaries": "boundaries",
        "outlines": "province outlines",
        "landuse_source": "land use",
        "statistics": "statistics",
        "projection": "Projection: Albers equal-area conic (standard parallels 25°N, 47°N; 105°E)",
        "synthetic": "NOTE: SYNTHETIC / reconstructed demo data (合成数据), "
        "not official statistics or RESDC land use; for demonstration only",
        "no_data": "no data",
        "centre": "colours diverge at",
        "truncated": "Showing the {shown} units with the largest and the {shown} with the smallest"
        " {measure} (of {total}); all units are in {table}",
        "by_area": "area",
        "by_emission": "emission",
        "by_sink": "sink",
        "stability": "Zone stability",
        "certainty_legend": "Share of draws in that zone",
        "stable": "stable ≥ 90 %",
        "likely": "likely 60–90 %",
        "unstable": "uncertain < 60 %",
        "modal_zone": "Modal zone",
        "lisa": "LISA clusters (local spatial autocorrelation)",
        "lisa_legend": "LISA cluster (p < {p:g})",
    },
}


@dataclass(frozen=True)
class Indicator:
    """A mapped column: titles and units in both languages, scale and palette."""

    column: str
    stem: str
    title_zh: str
    title_en: str
    unit_zh: str
    unit_en: str
    cmap: str
    scale: float = 1.0
    centre: float | None = None

    def title(self, language: str) -> str:
        """The indicator's name in ``language``."""
        return self.title_zh if language == "zh" else self.title_en

    def unit(self, language: str) -> str:
        """The displayed unit in ``language`` (empty for ratios)."""
        return self.unit_zh if language == "zh" else self.unit_en


INDICATORS: tuple[Indicator, ...] = (
    Indicator("emission_t", "emission", "碳排放总量", "Carbon emission",
              "万t CO₂", "10⁴ t CO₂", "OrRd", T_PER_10K_T),
    Indicator("sink_t", "sink", "碳汇总量", "Carbon sink",
              "万t CO₂", "10⁴ t CO₂", "YlGn", T_PER_10K_T),
    Indicator("balance_t", "balance", "碳收支 (排放-碳汇)", "Carbon balance (emission - sink)",
              "万t CO₂", "10⁴ t CO₂", "RdBu_r", T_PER_10K_T, centre=0.0),
    Indicator("emission_intensity_t_per_ha", "emission_intensity", "碳排放强度",
              "Emission intensity", "t CO₂/hm²", "t CO₂/ha", "OrRd"),
    Indicator("sink_intensity_t_per_ha", "sink_intensity", "碳汇强度", "Sink intensity",
              "t CO₂/hm²", "t CO₂/ha", "YlGn"),
    Indicator("eec", "eec", "碳排放经济贡献率 EEC", "Economic contribution coefficient EEC",
              "", "", "PuOr", centre=1.0),
    Indicator("sec", "sec", "碳吸收生态贡献率 SEC", "Ecological support coefficient SEC",
              "", "", "BrBG", centre=1.0),
    Indicator("compensation_rate", "compensation_rate", "碳补偿率 (碳汇/碳排放)",
              "Carbon compensation rate (sink / emission)", "", "", "RdYlGn", centre=1.0),
)  # fmt: skip


def mathtext(text: str) -> str:
    """``text`` with the sub- and superscripts the CJK font lacks written as mathtext."""
    for plain, math_form in (("₂", "$_2$"), ("⁴", "$^4$"), ("²", "$^2$")):
        text = text.replace(plain, math_form)
    return text


def zone_name(zone: str, language: str) -> str:
    """The zone's name in ``language``."""
    return ZONE_NAMES_ZH[zone] if language == "zh" else ZONE_NAMES_EN[zone]


def wrap_line(line: str, width: int) -> str:
    """Wrap ``line`` at ``width`` columns (a CJK character counts as two), at a space if near."""
    out, current = [], ""
    for char in line:
        if display_columns(current + char) > width and current:
            cut = current.rfind(" ")
            if cut <= 0 or cut < len(current) - 25 or char.isspace():
                cut = len(current)
            out.append(current[:cut].rstrip())
            current = current[cut:].lstrip()
        current += char
    out.append(current)
    return "\n".join(out)


def display_columns(text: str) -> int:
    """Columns ``text`` takes in a fixed-width layout: a CJK character counts as two."""
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


# --------------------------------------------------------------------------- map names

# The 55 officially recognised ethnic minorities, as they appear in the names of autonomous
# counties and banners (自治县, 自治旗): 威宁彝族回族苗族自治县 names 彝, 回 and 苗.
ETHNIC_GROUPS_ZH: tuple[str, ...] = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
    "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡",
    "纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬",
    "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安",
    "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)  # fmt: skip
_ETHNIC = "|".join(sorted(ETHNIC_GROUPS_ZH, key=len, reverse=True))
_AUTONOMOUS = re.compile(rf"^(?P<place>.+?)(?:(?:{_ETHNIC})族)+自治(?P<kind>[县旗])$")
_AUTONOMOUS_BARE = re.compile(r"^(?P<place>.{2,})自治(?P<kind>[县旗])$")
_CITY_QUALIFIED = re.compile(r"^(?P<city>[^市]{2,4})市(?P<district>.+[区县])$")


def short_names(names: list[str]) -> dict[str, str]:
    """:func:`short_name` of each of ``names``, except where two names would shorten to the
    same text (乐山市市中区, 内江市市中区): those keep their full names, so a chart never
    shows two units under one name."""
    short = {name: short_name(name) for name in dict.fromkeys(names)}
    counts: dict[str, int] = {}
    for text in short.values():
        counts[text] = counts.get(text, 0) + 1
    return {name: text if counts[text] == 1 else name for name, text in short.items()}


def short_name(name: str) -> str:
    """The name of a unit as written on maps (tables keep the full name).

    Rules, in order:

    1. An autonomous county or banner keeps its place name and 县/旗, dropping the peoples:
       威宁彝族回族苗族自治县 -> 威宁县, 鄂温克族自治旗 -> 鄂温克旗 (a name that would be
       left without a place keeps its people: the place is then the first people's name);
       鄂伦春自治旗 -> 鄂伦春旗.
    2. A district qualified with its city drops the city (the map shows where it is):
       乐山市市中区 -> 市中区; but a city's merged districts keep it (六盘水市市辖区).
    """
    match = _AUTONOMOUS.match(name)
    if match:
        return match["place"] + match["kind"]
    if name.endswith(("族自治县", "族自治旗")):  # the place is the people: 鄂温克族自治旗
        return name[: -len("族自治县")] + name[-1]
    match = _AUTONOMOUS_BARE.match(name)
    if match:
        return match["place"] + match["kind"]
    match = _CITY_QUALIFIED.match(name)
    if match and len(match["district"]) >= 2 and match["district"] != "市辖区":
        return match["district"]
    return name
