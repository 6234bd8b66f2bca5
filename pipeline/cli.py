"""Command line: parses arguments, configures logging and signals, calls the API, exits.

This is the only module that prints. Input errors print a one-paragraph message naming the
file, key and value, and exit 2; no traceback is shown for them. Anything unexpected (a bug,
or a library failing in a way the pipeline does not know) prints a short "internal error"
paragraph naming the exception and the stage, writes the traceback to a report file in the
temporary folder to attach to a bug report, and exits 3; the outputs are left as they were
(every output is staged and renamed only at the end of a successful run).
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import PipelineError

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines to whatever ``sys.stdout`` is at the time (so captured output works)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stdout

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


_HANDLER = _StdoutHandler()
_HANDLER.setFormatter(logging.Formatter("%(message)s"))


def configure_logging(level: int = logging.INFO) -> None:
    """Show the ``pipeline`` logger's messages on stdout, one plain line each."""
    logger = logging.getLogger("pipeline")
    if _HANDLER not in logger.handlers:
        logger.addHandler(_HANDLER)
    logger.setLevel(level)


def _run(args: argparse.Namespace) -> None:
    from pipeline import api
    from pipeline.runtime.lock import interrupts_as_keyboard_interrupt

    study = api.load_study(args.study)
    with interrupts_as_keyboard_interrupt(), api.output_lock(study):
        results = api.run_study(study, force=args.force)
        for path in api.write_outputs(results):
            print(f"wrote {path}")


def _validate(args: argparse.Namespace) -> None:
    from pipeline import api

    study = api.validate_study(args.study)
    print(f"{study.path}: no problems found")


def _boundaries(args: argparse.Namespace) -> None:
    from pipeline.regions.cnmaps import boundaries_command

    print(f"wrote {boundaries_command(args.region, args.out, args.unit_map)}")


def _demo(args: argparse.Namespace) -> None:
    from pipeline.demo import demo_command

    for path in demo_command(args.out_dir, pixel_size_m=args.pixel_size, preview_png=args.preview):
        print(f"wrote {path}")


def _maps(args: argparse.Namespace) -> None:
    from pipeline import api
    from pipeline.runtime.lock import interrupts_as_keyboard_interrupt

    with interrupts_as_keyboard_interrupt():
        for path in api.render_maps(args.study):
            print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    """The ``carbon-zoning`` argument parser, one sub-command per stage a user re-runs."""
    parser = argparse.ArgumentParser(
        prog="carbon-zoning",
        description="Carbon balance and carbon-balance zoning (碳平衡分区) of a region.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the whole pipeline on a study")
    run.add_argument("study", nargs="?", type=Path, default=Path("study.toml"))
    run.add_argument(
        "--force", action="store_true", help="recompute the land-use areas even when cached"
    )
    run.set_defaults(handler=_run)
    validate = commands.add_parser("validate", help="check every input, write nothing")
    validate.add_argument("study", type=Path)
    validate.set_defaults(handler=_validate)
    demo = commands.add_parser("demo", help="write the synthetic Guiyang demo rasters")
    demo.add_argument("--out-dir", type=Path, default=Path("data/raw"))
    demo.add_argument("--pixel-size", type=float, default=30.0, help="metres (default 30)")
    demo.add_argument("--preview", type=Path, default=None, help="also write a PNG preview")
    demo.set_defaults(handler=_demo)
    regions = commands.add_parser("boundaries", help="county polygons of a Chinese region")
    regions.add_argument("region", help="name (贵阳市, 贵阳) or adcode (520100)")
    regions.add_argument("--out", type=Path, required=True, help="GeoPackage to write")
    regions.add_argument(
        "--unit-map",
        default=None,
        help="'districts' (a city's 区 -> its 市辖区; not 特区/林区) or a CSV adcode|name,unit",
    )
    regions.set_defaults(handler=_boundaries)
    maps = commands.add_parser("maps", help="re-render maps and report from processed tables")
    maps.add_argument("study", type=Path)
    maps.set_defaults(handler=_maps)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``carbon-zoning`` and ``python -m pipeline``."""
    args = build_parser().parse_args(argv)
    configure_logging()
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt as interrupt:
        detail = str(interrupt) or "earlier outputs were left as they were"
        print(f"interrupted: {detail}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one guard: never a traceback on the terminal
        print(internal_error_message(error, argv), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    return 0


def internal_error_message(error: BaseException, argv: Sequence[str] | None) -> str:
    """The paragraph printed for an unexpected exception; the traceback goes to a file."""
    stage = _stage_of(error)
    report = _write_report(error, argv, stage)
    where = f"a report was written to {report}" if report else "no report could be written"
    message = str(error).splitlines()[0][:300] if str(error) else ""
    return (
        f"internal error: {type(error).__name__}: {message}\n"
        f"  stage: {stage}\n"
        "  earlier outputs were left as they were. This is a bug (or a failure the pipeline "
        f"does not know yet); {where}: please attach it to an issue."
    )


def _stage_of(error: BaseException) -> str:
    """The pipeline stage the exception came from: the innermost ``pipeline`` module."""
    stage = "start"
    for frame in traceback.extract_tb(error.__traceback__):
        parts = Path(frame.filename).parts
        if "pipeline" in parts:
            index = len(parts) - 1 - parts[::-1].index("pipeline")
            stage = ".".join(parts[index:]).removesuffix(".py")
    return stage


def _write_report(error: BaseException, argv: Sequence[str] | None, stage: str) -> Path | None:
    """The traceback, command line and versions in a new file of the temporary folder."""
    lines = [
        "carbon-zoning internal error report",
        f"command: {list(sys.argv[:1]) + list(argv if argv is not None else sys.argv[1:])}",
        f"stage: {stage}",
        f"python: {sys.version.split()[0]} on {platform.platform()}",
        "",
        *traceback.format_exception(error),
    ]
    try:
        handle, name = tempfile.mkstemp(prefix="carbon-zoning-internal-error-", suffix=".txt")
        with open(handle, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines))
    except OSError:
        return None
    return Path(name)


def entry() -> None:
    """The ``carbon-zoning`` command: :func:`main`, then exit with its status.

    An interrupted run has already stopped its threads, removed its temporary files and
    released its lock when :func:`main` returns, so the process ends at once rather than
    spending seconds unloading GDAL, numba and the rest (Ctrl-C should feel immediate).
    """
    import os

    status = main()
    if status == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()
