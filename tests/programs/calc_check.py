"""Open an .xlsx workbook in headless LibreOffice Calc and report what it made of it, as JSON.

    python tests/programs/calc_check.py carbon_balance.xlsx out/

LibreOffice (``soffice``, Debian's ``libreoffice-calc``) converts the workbook, in a
throw-away user profile, to PDF and back to .xlsx; ``pdftoppm`` (``poppler-utils``) turns
the PDF's first page into ``<out>/<stem>-page1.png`` for a person to look at. A workbook
that LibreOffice had to repair or could not load shows as a non-zero exit code, a missing
output, unexpected stderr, or sheets / cell ranges that differ after the round trip. The
active sheet is read from the round-tripped file, i.e. the sheet LibreOffice opened on.
Standard library only, so any Python runs it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# stderr lines LibreOffice prints on a healthy headless run
HARMLESS = re.compile(r"javaldx|^\s*$|XDG_RUNTIME_DIR|Gtk-WARNING|dbus", re.IGNORECASE)


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(workbook: Path, out: Path, target: str, profile: Path, timeout: float = 120) -> dict:
    """``soffice --headless --convert-to target``; the result and what LibreOffice said."""
    program = soffice()
    if program is None:
        return {"ok": False, "error": "soffice not found"}
    out.mkdir(parents=True, exist_ok=True)
    command = [
        program,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        target,
        "--outdir",
        str(out),
        str(workbook),
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:  # a modal dialog (e.g. a repair prompt) blocks forever
        return {"ok": False, "error": f"timed out after {timeout:.0f} s (a dialog waiting?)"}
    output = out / f"{workbook.stem}.{target.split(':')[0]}"
    stderr = [line for line in done.stderr.splitlines() if not HARMLESS.search(line)]
    return {
        "ok": done.returncode == 0 and output.is_file() and not stderr,
        "returncode": done.returncode,
        "output": str(output) if output.is_file() else None,
        "stdout": done.stdout.strip(),
        "stderr": stderr,
        "seconds": round(time.monotonic() - started, 1),
    }


def workbook_info(path: Path) -> dict:
    """Sheet names, each sheet's used range and the active sheet, read from the .xlsx XML."""
    try:
        return _workbook_info(path)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, ElementTree.ParseError) as error:
        return {"error": f"{type(error).__name__}: {error}", "sheets": {}, "active_sheet": None}


def _workbook_info(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{PACKAGE_RELS}Relationship")}
        sheets = {}
        for sheet in book.iter(f"{MAIN}sheet"):
            target = targets[sheet.get(f"{RELS}id")].lstrip("/")
            target = target if target.startswith("xl/") else f"xl/{target}"
            root = ElementTree.fromstring(archive.read(target))
            dimension = root.find(f"{MAIN}dimension")
            cells = sum(1 for c in root.iter(f"{MAIN}c") if len(c))
            columns = [
                {"min": int(c.get("min")), "max": int(c.get("max")), "width": float(c.get("width"))}
                for c in root.iter(f"{MAIN}col")
                if c.get("width")
            ]
            setup = root.find(f"{MAIN}pageSetup")
            sheets[sheet.get("name")] = {
                "dimension": dimension.get("ref") if dimension is not None else None,
                "cells": cells,
                "column_widths": columns,
                "orientation": setup.get("orientation") if setup is not None else None,
            }
    view = book.find(f"{MAIN}bookViews/{MAIN}workbookView")
    active = int(view.get("activeTab", 0)) if view is not None else 0
    names = list(sheets)
    return {"sheets": sheets, "active_sheet": names[active] if active < len(names) else None}


def first_page_png(pdf: Path, png_stem: Path) -> str | None:
    """``pdftoppm`` the first page at 100 dpi to ``<png_stem>.png``."""
    program = shutil.which("pdftoppm")
    if program is None:
        return None
    command = [
        program,
        "-png",
        "-r",
        "100",
        "-f",
        "1",
        "-l",
        "1",
        "-singlefile",
        str(pdf),
        str(png_stem),
    ]
    subprocess.run(command, capture_output=True, timeout=60, check=False)
    png = png_stem.with_suffix(".png")
    return str(png) if png.is_file() else None


def pdf_pages(pdf: Path) -> int | None:
    program = shutil.which("pdfinfo")
    if program is None:
        return None
    done = subprocess.run([program, str(pdf)], capture_output=True, text=True, check=False)
    match = re.search(r"^Pages:\s+(\d+)", done.stdout, re.MULTILINE)
    return int(match.group(1)) if match else None


def check(workbook: Path, out: Path) -> dict:
    """Convert to PDF and .xlsx, render page 1, compare the round trip with the original."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        pdf = convert(workbook, out / "pdf", "pdf", Path(profile))
        xlsx = convert(workbook, out / "xlsx", "xlsx:Calc MS Excel 2007 XML", Path(profile))
    report: dict[str, object] = {"workbook": str(workbook), "pdf": pdf, "xlsx": xlsx}
    original = workbook_info(workbook)
    report["original"] = original
    if pdf.get("output"):
        report["pdf_pages"] = pdf_pages(Path(pdf["output"]))
        report["page1_png"] = first_page_png(Path(pdf["output"]), out / f"{workbook.stem}-page1")
    if xlsx.get("output"):
        round_trip = workbook_info(Path(xlsx["output"]))
        report["round_trip"] = round_trip
        report["opens_on"] = round_trip["active_sheet"]
        report["same_sheets"] = list(round_trip["sheets"]) == list(original["sheets"])
        report["same_cells"] = {
            name: round_trip["sheets"].get(name, {}).get("cells") == sheet["cells"]
            for name, sheet in original["sheets"].items()
        }
    report["ok"] = bool(
        pdf.get("ok")
        and xlsx.get("ok")
        and "error" not in original
        and report.get("same_sheets")
        and all(report.get("same_cells", {}).values())
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("out", type=Path, help="folder for the PDF, the round trip and the PNG")
    args = parser.parse_args(argv)
    report = check(args.workbook.resolve(), args.out.resolve())
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
