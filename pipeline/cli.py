"""Command line: parses arguments and calls :mod:`pipeline.run`; nothing else.

Input errors print a one-paragraph message naming the file, key and value, and exit 2;
no traceback is shown for them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import PipelineError

EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130


def _run(args: argparse.Namespace) -> None:
    from pipeline.run import run

    for path in run(args.study, force=args.force):
        print(f"wrote {path}")


def _validate(args: argparse.Namespace) -> None:
    from pipeline.run import validate

    study = validate(args.study)
    print(f"{study.path}: no problems found")


def _boundaries(args: argparse.Namespace) -> None:
    from pipeline.boundaries import boundaries_command

    print(f"wrote {boundaries_command(args.region, args.out, args.unit_map)}")


def _demo(args: argparse.Namespace) -> None:
    from pipeline.demo import demo_command

    for path in demo_command(args.out_dir, pixel_size_m=args.pixel_size, preview_png=args.preview):
        print(f"wrote {path}")


def _maps(args: argparse.Namespace) -> None:
    from pipeline.run import maps

    for path in maps(args.study):
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
        "--unit-map", default=None, help="'districts' (区 -> 市辖区) or a CSV adcode|name,unit"
    )
    regions.set_defaults(handler=_boundaries)
    maps = commands.add_parser("maps", help="re-render maps and report from processed tables")
    maps.add_argument("study", type=Path)
    maps.set_defaults(handler=_maps)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``carbon-zoning`` and ``python -m pipeline``."""
    args = build_parser().parse_args(argv)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
