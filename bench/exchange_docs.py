"""Documents: Word import and exchange XML per document, and how fast hostile files are
refused (zip bomb, huge and malformed .docx; XXE, billion laughs, deep nesting, huge
text, too many elements in XML), with the peak Python memory of each refusal.

    .venv/bin/python bench/exchange_docs.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, summary_ms, table, write_result  # noqa: E402
from exchange_bridge.docx_import import import_docx  # noqa: E402
from exchange_bridge.xml_codec import dump_xml, load_xml  # noqa: E402
from hub.errors import HubError  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def timed(fn: Callable[[], object], rounds: int) -> dict[str, float | None]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return summary_ms(sorted(times))


def refusal(fn: Callable[[], object]) -> tuple[str, float, float]:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
        outcome = "ACCEPTED"
    except HubError as exc:
        outcome = f"{exc.code} {exc.key}"
    elapsed = (time.perf_counter() - t0) * 1000
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return outcome, elapsed, peak


def hostile_docx(tmp: Path) -> dict[str, Path]:
    base = SAMPLES / "notice-downward.docx"
    with zipfile.ZipFile(base) as z:
        parts = {n: z.read(n) for n in z.namelist()}

    def write(name: str, members: dict[str, bytes]) -> Path:
        path = tmp / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for k, v in members.items():
                z.writestr(k, v)
        return path

    huge = tmp / "huge.docx"
    with huge.open("wb") as f:
        f.truncate(500 * 2**20)
    truncated = tmp / "truncated.docx"
    truncated.write_bytes(base.read_bytes()[:20_000])
    return {
        "zip bomb (1 GiB of zeros, ~1 MiB file)": write("bomb.docx", {**parts, "word/media/x.png": bytes(2**30)}),
        "500 MiB .docx": huge,
        "truncated .docx": truncated,
        "30,000 paragraphs": write("long.docx", {**parts, "word/document.xml": parts["word/document.xml"].replace(
            b"</w:body>", b"<w:p/>" * 30_000 + b"</w:body>")}),
        "DTD with entities in document.xml": write("dtd.docx", {**parts, "word/document.xml": (
            b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaa">]>'
            + parts["word/document.xml"].split(b"?>", 1)[1])}),
    }


def hostile_xml() -> dict[str, bytes]:
    ns = 'xmlns="urn:changtong:exchange:document:1" version="1"'
    laughs = '<!DOCTYPE d [<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10)) + "]>"
    return {
        "XXE (external entity)": f'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><document {ns}>&x;</document>'.encode(),
        "billion laughs": f"{laughs}<document {ns}>&l9;</document>".encode(),
        "deep nesting (50,000 levels)": (f"<document {ns}>" + "<x>" * 50_000 + "</x>" * 50_000 + "</document>").encode(),
        "huge text (7 MiB in one element)": f"<document {ns}><head/><body><title>{'长' * (7 * 2**20 // 3)}</title></body><footer/></document>".encode(),
        "too many elements (300,000)": f"<document {ns}><head/><body><content>{'<p/>' * 300_000}</content></body><footer/></document>".encode(),
        "9 MiB file": b"<document>" + b" " * (9 * 2**20) + b"</document>",
    }


def main(rounds: int) -> None:
    if not SAMPLES.is_dir():
        raise SystemExit(f"samples missing: {SAMPLES}")
    rows, per_doc = [], []
    for path in sorted(SAMPLES.glob("*.docx")):
        doc = import_docx(path)
        xml = dump_xml(doc)
        imp, exp, load = timed(lambda: import_docx(path), rounds), timed(lambda: dump_xml(doc), rounds), timed(
            lambda: load_xml(xml), rounds)
        rows.append([path.stem, imp["p50"], imp["p95"], exp["p50"], load["p50"], len(xml)])
        per_doc.append({"sample": path.stem, "import_ms": imp, "export_xml_ms": exp, "load_xml_ms": load, "xml_bytes": len(xml)})
    print(f"{rounds} rounds each")
    print(table(["sample", "import p50 ms", "p95", "XML write p50 ms", "XML read+check p50 ms", "XML bytes"], rows))

    refusals, rows = [], []
    with tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp:
        for name, path in hostile_docx(Path(tmp)).items():
            size = path.stat().st_size
            outcome, ms, peak = refusal(lambda: import_docx(path))
            rows.append([name, f"{size / 2**20:.1f} MiB", outcome, round(ms, 1), round(peak, 1)])
            refusals.append({"input": name, "kind": "docx", "outcome": outcome, "ms": ms, "peak_mib": peak})
    for name, data in hostile_xml().items():
        outcome, ms, peak = refusal(lambda: load_xml(data))
        rows.append([name, f"{len(data) / 2**20:.1f} MiB", outcome, round(ms, 1), round(peak, 1)])
        refusals.append({"input": name, "kind": "xml", "outcome": outcome, "ms": ms, "peak_mib": peak})
    print(table(["hostile input", "size", "outcome", "ms", "peak MiB (Python)"], rows))
    print(write_result("exchange_docs", {"rounds": rounds, "machine": machine(), "documents": per_doc, "refusals": refusals}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    main(p.parse_args().rounds)
