"""Red-header printing timings: model → Word file, and Word file → PDF through LibreOffice.

    .venv/bin/python bench/render.py [--docx-runs 20] [--pdf-runs 3] [--parallel 4]

Each shared sample (`../shared/samples/*.docx`) is imported once, then rendered to a
Word file `--docx-runs` times and to PDF `--pdf-runs` times (a fresh LibreOffice
process and profile each time, as `changtong doc render --format pdf` does), then
`--parallel` PDF conversions at once. Prints a table; writes bench/results/render.json.
Never asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exchange_bridge.docx_import import import_docx  # noqa: E402
from exchange_bridge.render import docx_to_pdf, render_docx  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples"
RESULTS = ROOT / "bench" / "results"


def pdf_pages(pdf: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        out = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True).stdout
    return int(next((ln.split()[1] for ln in out.splitlines() if ln.startswith("Pages:")), 0))


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docx-runs", type=int, default=20)
    ap.add_argument("--pdf-runs", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=4)
    args = ap.parse_args()

    rows = []
    print(f"{'sample':<24} {'docx median ms':>15} {'pdf median s':>13} {'pdf min s':>10} {'pdf pages':>9}")
    for path in sorted(SAMPLES.glob("*.docx")):
        doc = import_docx(path)
        docx_times = timed(lambda: render_docx(doc), args.docx_runs)
        data = render_docx(doc)
        pdf_times = timed(lambda: docx_to_pdf(data), args.pdf_runs)
        pages = pdf_pages(docx_to_pdf(data))
        row = {"sample": path.stem, "docx_median_s": statistics.median(docx_times),
               "pdf_median_s": statistics.median(pdf_times), "pdf_min_s": min(pdf_times), "pdf_pages": pages}
        rows.append(row)
        print(f"{path.stem:<24} {row['docx_median_s'] * 1000:>15.1f} {row['pdf_median_s']:>13.2f} "
              f"{row['pdf_min_s']:>10.2f} {pages:>9}")

    doc = import_docx(SAMPLES / "notice-downward.docx")
    data = render_docx(doc)
    t = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(lambda _: docx_to_pdf(data), range(args.parallel)))
    wall = time.perf_counter() - t
    print(f"{args.parallel} PDF conversions at once (notice-downward): {wall:.2f} s wall, "
          f"{wall / args.parallel:.2f} s each")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "render.json"
    out.write_text(json.dumps({"samples": rows, "parallel": {"n": args.parallel, "wall_s": wall}}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
