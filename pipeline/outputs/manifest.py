"""The run manifest (run.json): what produced the outputs."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from pipeline.runtime.files import sha256
from pipeline.runtime.versions import package_versions


def run_manifest(
    *,
    study: Any,
    inputs: Mapping[str, Path],
    timings_s: Mapping[str, float],
    outputs: list[str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What produced the outputs: study, inputs with checksums, settings, versions, timings."""
    return {
        "study": str(study.path),
        "study_sha256": sha256(study.path),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "inputs": {
            role: {"path": str(path), "sha256": sha256(path)} for role, path in inputs.items()
        },
        "settings": asdict(study) if is_dataclass(study) else {},
        "versions": package_versions(),
        "timings_s": {stage: round(seconds, 3) for stage, seconds in timings_s.items()},
        "outputs": outputs,
        **(extra or {}),
    }
