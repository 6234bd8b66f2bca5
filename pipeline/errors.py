"""One error family for the pipeline.

The command line catches :class:`PipelineError`, prints its message and exits non-zero
without a traceback. Every message names the file, the key or column and the bad value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

MAX_PROBLEMS_SHOWN = 50
"""A message lists this many problems, then says how many more there are."""


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class InputError(PipelineError, ValueError):
    """An input (study file, table, raster, vector) is wrong.

    Parameters
    ----------
    source
        The file the problems were found in (or a short description of the input).
    problems
        One line per problem; each names the key or column and the offending value.
    """

    def __init__(self, source: str | Path, problems: str | Iterable[str]) -> None:
        self.source = str(source)
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self._format())

    @classmethod
    def combined(cls, errors: Iterable[InputError]) -> InputError:
        """One error holding every problem of ``errors`` (each line names its file)."""
        errors = list(errors)
        if len({error.source for error in errors}) == 1:
            return cls(errors[0].source, [p for error in errors for p in error.problems])
        lines = [f"{error.source}: {problem}" for error in errors for problem in error.problems]
        return cls("inputs", lines)

    def _format(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        shown = problems_shown()
        lines = [f"{self.source}: {len(self.problems)} problems"]
        lines += [f"  - {problem}" for problem in self.problems[:shown]]
        if len(self.problems) > shown:
            lines.append(
                f"  - and {len(self.problems) - shown} more (the first {shown} are listed; "
                "set CARBON_ZONING_MAX_PROBLEMS_SHOWN to list more)"
            )
        return "\n".join(lines)


class StudyError(InputError):
    """The study file (TOML) is invalid."""


class OutputError(PipelineError, OSError):
    """Outputs cannot be written (locked, not writable)."""


class PipelineWarning(UserWarning):
    """Something was repaired or looks suspicious but the run can continue.

    Issued with :func:`warnings.warn`; the message names the file, the feature or unit and the
    value, like an :class:`InputError` message.
    """


def limit(variable: str, default: int) -> int:
    """A size cap on inputs: ``default``, or the environment variable ``variable`` when it
    holds a positive whole number (how a user raises the cap for a real study that needs it).
    """
    text = os.environ.get(variable, "").strip()
    if not re.fullmatch(r"[0-9]{1,18}", text) or int(text) == 0:
        return default
    return int(text)


def problems_shown() -> int:
    """How many problems a message lists (``CARBON_ZONING_MAX_PROBLEMS_SHOWN`` raises it)."""
    return limit("CARBON_ZONING_MAX_PROBLEMS_SHOWN", MAX_PROBLEMS_SHOWN)


def limit_hint(variable: str) -> str:
    """How to raise a cap, for the message that names it."""
    return f"set the environment variable {variable} to raise this limit"
