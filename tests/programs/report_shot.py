"""Screenshot report.html in headless Chromium and measure its layout, as one JSON document.

    python tests/programs/report_shot.py report.html out/ [--width 1400] [--height 4000]

Writes ``<out>/report-<width>.png`` (``--height`` px tall; by default the whole page, up
to 16,000 px) and prints the size every image is drawn at (with its ``alt``, ``data-stem``
and enclosing link), the page size, the tables wider than the page's text column (cut or
scrolled headers), and whether every image decoded. The measurements come from a copy of
the report with a small script added, read back with ``--dump-dom``; the screenshot is of
the report itself. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
MAX_HEIGHT = 16_000
PROBE = """<script>
window.addEventListener("load", function () {
  function box(e) { var r = e.getBoundingClientRect();
    return {width: Math.round(r.width), height: Math.round(r.height),
            top: Math.round(r.top + window.scrollY)}; }
  var images = Array.prototype.map.call(document.images, function (i) {
    var b = box(i); b.alt = i.alt; b.stem = i.dataset.stem || null;
    b.natural_width = i.naturalWidth;
    var link = i.closest("a"); b.link = link ? link.getAttribute("href") : null; return b; });
  var column = document.body.clientWidth;
  var tables = Array.prototype.map.call(document.querySelectorAll("table"), function (t, n) {
    var b = box(t); b.index = n; b.scroll_width = t.scrollWidth;
    b.overflow = t.scrollWidth > t.parentElement.clientWidth || b.width > column; return b; });
  var page = {width: document.documentElement.scrollWidth,
              height: document.documentElement.scrollHeight, column: column};
  var probe = document.createElement("pre"); probe.id = "layout-probe";
  probe.textContent = JSON.stringify({images: images, tables: tables, page: page});
  document.body.appendChild(probe);
});
</script>
"""


def chromium() -> str | None:
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def run(program: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [program, *FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def measure(program: str, report: Path, width: int, work: Path) -> dict:
    """The layout at ``width`` px, from a probed copy of the report."""
    html = report.read_text(encoding="utf-8")
    probed = work / "probed.html"
    probed.write_text(html.replace("</head>", PROBE + "</head>", 1), encoding="utf-8")
    done = run(
        program,
        work / "p-dom",
        f"--window-size={width},2000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probed.as_uri(),
    )
    match = re.search(r'<pre id="layout-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    if match is None:
        return {"error": f"no layout probe in the DOM (exit {done.returncode})"}
    layout = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    decoded = re.search(r'data-images-decoded="(\d+)/(\d+)"', done.stdout)
    layout["images_decoded"] = decoded.group(0).split('"')[1] if decoded else None
    return layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=None, help="default: the whole page")
    args = parser.parse_args(argv)
    program = chromium()
    if program is None:
        print(json.dumps({"error": "chromium not found"}))
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-shot-") as temporary:
        work = Path(temporary)
        layout = measure(program, args.report.resolve(), args.width, work)
        height = args.height or min(layout.get("page", {}).get("height", 4000), MAX_HEIGHT)
        png = args.out.resolve() / f"report-{args.width}.png"
        shot = run(
            program,
            work / "p-shot",
            f"--window-size={args.width},{height}",
            f"--screenshot={png}",
            args.report.resolve().as_uri(),
        )
    layout.update(
        screenshot=str(png) if png.is_file() else None,
        screenshot_size=[args.width, height],
        returncode=shot.returncode,
    )
    json.dump(layout, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0 if png.is_file() and "error" not in layout else 1


if __name__ == "__main__":
    sys.exit(main())
