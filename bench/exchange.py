"""Documents per second through each stage of the exchange, and end to end between two
real nodes:

- import: a Word file into the document model (the shared samples);
- render: the model into a red-header Word file (`--pdf`: and through LibreOffice);
- sign+encrypt: XML + attachment zipped, signed by the sender, enveloped to one recipient;
- verify+decrypt+card: at the receiving node, from the package's arrival to its card in
  收文 (the node's own timestamps: exchange_received.received_at → messages.created_at);
- end to end: a county clerk's `POST /api/v1/exchange/send` to the card at the city.

Two `changtong serve` processes (dy-kenli → dy-city) on loopback, mutual TLS, SQLite.

    .venv/bin/python bench/exchange.py [--docs 20] [--pdf]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HubProcess, free_port, summary_ms, table, write_result  # noqa: E402
from exchange_bridge.docx_import import import_docx_bytes  # noqa: E402
from exchange_bridge.pki import NodePki, envelope, init_ca, issue_unit, load_cert, load_key, sign  # noqa: E402
from exchange_bridge.render import render_docx, render_pdf  # noqa: E402
from exchange_bridge.transport import build_content, new_id  # noqa: E402
from exchange_bridge.xml_codec import dump_xml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "exchange" / "samples"
BIN = Path(sys.executable).parent / "changtong"
PASSWORD = "bench-pass-2026"


def rate(seconds: list[float]) -> float:
    return len(seconds) / sum(seconds) if seconds else 0.0


def stage(fn: Any, inputs: list[Any], rounds: int) -> list[float]:
    took = []
    for i in range(rounds):
        t0 = time.perf_counter()
        fn(inputs[i % len(inputs)])
        took.append(time.perf_counter() - t0)
    return took


class Node:
    """One exchange node: its unit certificate installed, then `changtong serve` with the
    exchange port open (bench.common.HubProcess)."""

    def __init__(self, tmp: Path, unit: str, root: Any, issued: Path) -> None:
        self.unit, self.data = unit, tmp / unit
        self.pair = issue_unit(root, unit, issued, unit_name=unit, bits=3072)
        pki = NodePki.of(self.data)
        pki.add_trust(root.cert)
        pki.install_identity(self.pair.cert, self.pair.key)
        self.xport = free_port()
        self.url = f"https://127.0.0.1:{self.xport}"
        self.hub: HubProcess | None = None

    def cli(self, *args: str) -> None:
        subprocess.run([str(BIN), "--data-dir", str(self.data), *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.hub = HubProcess(self.data, env={
            "CHANGTONG_EXCHANGE__PORT": str(self.xport), "CHANGTONG_EXCHANGE__HOST": "127.0.0.1",
            "CHANGTONG_EXCHANGE__POLL_SECONDS": "0.2",
        })
        self.hub.wait_ready()

    def stop(self) -> None:
        if self.hub:
            self.hub.stop()


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def card_times(db: Path) -> dict[str, tuple[float, float]]:
    """package id → (arrived, card stored), read from the city's own database."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT r.message_id, r.received_at, m.created_at FROM exchange_received r "
            "JOIN exchange_desk_cards c ON c.package_id = r.message_id AND c.box = 'in' "
            "JOIN messages m ON m.id = c.message_id"
        ).fetchall()
    return {pid: (_ts(a), _ts(b)) for pid, a, b in rows}


async def two_nodes(docs: int, document: dict[str, Any]) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-exchange-"))
    root = init_ca(tmp / "ca", bits=3072)
    city, kenli = Node(tmp, "dy-city", root, tmp / "issued"), Node(tmp, "dy-kenli", root, tmp / "issued")
    for a, b in ((city, kenli), (kenli, city)):
        a.cli("db", "upgrade")
        a.cli("exchange", "peer", "add", b.unit, b.url, "--cert", str(b.pair.cert))
        a.cli("user", "add", "clerk", "--password", PASSWORD, "--role", "clerk")
    for n in (city, kenli):
        n.start()
    try:
        async with aiohttp.ClientSession() as http:
            base = kenli.hub.url
            async with http.post(base + "/api/v1/auth/login", json={"username": "clerk", "password": PASSWORD}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            sent: dict[str, float] = {}
            t0 = time.time()
            for i in range(docs):
                body = {"document": {**document, "title": f"{document['title']}（{i + 1}）"}, "recipients": ["dy-city"]}
                started = time.time()
                async with http.post(base + "/api/v1/exchange/send", json=body, headers=headers) as r:
                    answer = await r.json()
                    assert r.status == 201, answer
                sent[answer["package_id"]] = started
            db = city.data / "changtong.db"
            deadline = time.time() + 300
            while time.time() < deadline:
                times = card_times(db)
                if len(times) >= docs:
                    break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"only {len(card_times(db))} of {docs} cards arrived")
        last_card = max(card for _, card in times.values())
        return {
            "arrival_to_card_s": [card - arrived for arrived, card in times.values()],
            "end_to_end_s": [times[pid][1] - at for pid, at in sent.items()],
            "throughput_docs_per_s": docs / (last_card - t0),
        }
    finally:
        for n in (city, kenli):
            n.stop()


def main(docs: int, rounds: int, pdf: bool) -> None:
    samples = [p.read_bytes() for p in sorted(SAMPLES.glob("*.docx"))]
    models = [import_docx_bytes(s) for s in samples]
    tmp = Path(tempfile.mkdtemp(prefix="bench-exchange-keys-"))
    root = init_ca(tmp / "ca", bits=3072)
    a, b = issue_unit(root, "dy-kenli", tmp, bits=3072), issue_unit(root, "dy-city", tmp, bits=3072)
    key, cert, to = load_key(a.key), load_cert(a.cert), [load_cert(b.cert)]
    xmls = [dump_xml(m) for m in models]
    attachment = os.urandom(200 * 1024)  # a 200 KiB attachment (a scanned page, say)

    def package(xml: bytes) -> bytes:
        content = build_content(new_id(), "dy-kenli", ["dy-city"], "基准", xml, {"附件.pdf": attachment})
        return envelope(sign(content, cert, key), to)

    measured = {
        "import (Word → model)": stage(import_docx_bytes, samples, rounds),
        "render (model → red-header Word)": stage(render_docx, models, rounds),
        "sign+encrypt (200 KiB attachment)": stage(package, xmls, rounds),
    }
    if pdf:
        measured["render PDF (LibreOffice)"] = stage(render_pdf, models, max(2, rounds // 10))
    e2e = asyncio.run(two_nodes(docs, models[2].to_json()))
    measured["verify+decrypt+card (at the city)"] = e2e["arrival_to_card_s"]
    measured["end to end (send → card at the city)"] = e2e["end_to_end_s"]
    rows, results = [], {}
    for name, seconds in measured.items():
        s = summary_ms(sorted(x * 1000 for x in seconds))
        per_s = rate(seconds) if not name.startswith(("verify", "end")) else None
        rows.append([name, len(seconds), s["p50"], s["p95"], per_s])
        results[name] = {"ms": s, "docs_per_s_one_at_a_time": per_s}
    print(f"{len(samples)} sample documents, {rounds} rounds per stage; {docs} documents between two nodes")
    print(table(["stage", "n", "p50 ms", "p95 ms", "docs/s (one at a time)"], rows))
    print(f"two nodes, {docs} sent back to back: {e2e['throughput_docs_per_s']:.1f} documents/s from first send to last card")
    results["two_node_throughput_docs_per_s"] = e2e["throughput_docs_per_s"]
    print(write_result("exchange", {"docs": docs, "rounds": rounds, "results": results}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=20, help="documents sent between the two nodes")
    p.add_argument("--rounds", type=int, default=30, help="runs of each in-process stage")
    p.add_argument("--pdf", action="store_true", help="also render PDFs through LibreOffice (seconds each)")
    args = p.parse_args()
    main(args.docs, args.rounds, args.pdf)
