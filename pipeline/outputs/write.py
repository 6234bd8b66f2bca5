"""Every output of a run, staged together and renamed at once, with the run manifest last."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.outputs import tables as table_outputs
from pipeline.outputs import transitions as transition_outputs
from pipeline.outputs.manifest import run_manifest
from pipeline.outputs.provenance import GENERATOR, study_provenance
from pipeline.outputs.staging import StagedOutputs
from pipeline.outputs.tables import MapTables
from pipeline.runtime.files import checksummed_text
from pipeline.runtime.versions import pipeline_version
from pipeline.study.settings import Study

MANIFEST_PATH = "data/processed/run.json"
REPRODUCTION_PATH = "data/processed/reproduction.md"
WORKBOOK_PATH = "data/processed/carbon_balance.xlsx"


@dataclass(frozen=True)
class CacheEntry:
    """The tabulated land-use areas kept for the next run (``None`` for an area table)."""

    key: str
    relative_path: str
    areas: pd.DataFrame | None
    reused: bool
    counting_path: str | None = None  # the sidecar with the counting mode and grid per year
    transitions: pd.DataFrame | None = None  # pixel pairs counted in the same pass
    transitions_path: str | None = None

    def manifest(self) -> dict[str, object]:
        """The ``landuse_cache`` entry of run.json (with the transitions file kept beside)."""
        entry: dict[str, object] = {"key": self.key, "file": self.relative_path}
        if self.transitions_path is not None:
            entry["transitions_file"] = self.transitions_path
        return entry | {"reused": self.reused}


def write_outputs(
    study: Study,
    tables: MapTables,
    *,
    input_files: Mapping[str, Path],
    notes: Sequence[str],
    timings_s: dict[str, float],
    cache_entry: CacheEntry | None,
    timed: Callable[[str], AbstractContextManager[None]],
) -> list[Path]:
    """Stage every output of a run and rename them together; return the written files.

    ``timed(stage)`` returns a context manager timing a stage (maps), whose seconds
    ``timings_s`` holds by the time the manifest is written.
    """
    sheets = table_outputs.balance_sheets(
        tables.landuse_areas, tables.balance, tables.zoning, tables.uncertainty
    )
    sheets |= transition_outputs.sheets_of(tables.transitions)
    sheets |= table_outputs.spatial_sheets(tables.spatial)
    with StagedOutputs(study.output_dir) as staged:
        for relative, frame in table_outputs.iter_csv_outputs(sheets):
            staged.write_csv(relative, frame)
        if study.output.xlsx:
            staged.write(
                WORKBOOK_PATH,
                lambda path: table_outputs.write_workbook(
                    path,
                    sheets,
                    header_language=study.output.xlsx_header_language,
                    notes=table_outputs.workbook_notes(
                        study.name, study_provenance(study), f"{GENERATOR} {pipeline_version()}"
                    ),
                ),
            )
        if tables.reproduction_markdown is not None:
            staged.write_text(REPRODUCTION_PATH, tables.reproduction_markdown)
        if tables.units is not None:
            from pipeline.outputs import geopackage  # pyogrio and the style XML on demand

            geopackage.stage_geopackage(
                staged, study, units=tables.units, balance=tables.balance,
                zoning=tables.zoning, landuse_areas=tables.landuse_areas,
                uncertainty=tables.uncertainty,
                extra_tables=transition_outputs.geopackage_tables(tables.transitions),
                spatial=tables.spatial,
            )  # fmt: skip
        if cache_entry is not None and not cache_entry.reused and cache_entry.areas is not None:
            body = cache_entry.areas.to_csv(index=False)  # verified by zonal.cache on reuse
            staged.write_text(cache_entry.relative_path, checksummed_text(body))
            if cache_entry.counting_path is not None and tables.counting is not None:
                staged.write_json(cache_entry.counting_path, tables.counting)
            if cache_entry.transitions_path is not None and cache_entry.transitions is not None:
                body = cache_entry.transitions.to_csv(index=False)
                staged.write_text(cache_entry.transitions_path, checksummed_text(body))
        if study.output.maps:
            from pipeline.outputs import render  # matplotlib only when drawing

            with timed("maps"):
                render.stage_maps_and_report(staged, study, tables)
        outputs = [str(final.relative_to(study.output_dir)) for final in staged.destinations]
        manifest = run_manifest(
            study=study,
            inputs=input_files,
            timings_s=timings_s,
            outputs=[*outputs, MANIFEST_PATH],
            extra={
                "landuse_cache": cache_entry.manifest() if cache_entry else None,
                "zonal": tables.counting,
                "notes": list(notes),
            },
        )
        staged.write_json(MANIFEST_PATH, manifest)
    return [study.output_dir / output for output in manifest["outputs"]]
