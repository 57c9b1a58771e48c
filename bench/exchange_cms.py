"""Exchange packages: time to build (zip), sign and encrypt a document for N recipients, and to
decrypt + verify it at one recipient (`openssl cms -verify` in a subprocess, as the
node does), for a few document sizes. RSA-3072 unit keys (the `ca issue` default).

    .venv/bin/python bench/exchange_cms.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, summary_ms, table, write_result  # noqa: E402
from exchange_bridge.pki import decrypt, envelope, init_ca, issue_unit, load_cert, load_key, sign, verify_async  # noqa: E402
from exchange_bridge.transport import build_content, new_id  # noqa: E402


async def main(rounds: int, bits: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-cms-"))
    root = init_ca(tmp / "ca", bits=bits)
    units = [issue_unit(root, f"unit-{i}", tmp / "issued", bits=bits) for i in range(10)]
    sender = (load_cert(units[0].cert), load_key(units[0].key))
    recipient = (load_cert(units[1].cert), load_key(units[1].key))
    rows, results = [], []
    for size_kb, n_recipients in ((20, 1), (20, 9), (1024, 1), (10 * 1024, 1), (10 * 1024, 9)):
        document = os.urandom(size_kb * 1024)
        certs = [load_cert(u.cert) for u in units[1 : 1 + n_recipients]]
        send_ms, open_ms = [], []
        for _ in range(rounds):
            pid = new_id()
            t0 = time.perf_counter()
            units_to = [f"unit-{i}" for i in range(1, 1 + n_recipients)]
            # a 20 KiB XML document and the rest as one attachment (PDFs and DOCX files are compressed already)
            content = build_content(pid, "unit-0", units_to, "基准", document[:20480], {"附件.pdf": document[20480:]})
            der = envelope(sign(content, *sender), certs)
            t1 = time.perf_counter()
            verified = await verify_async(decrypt(der, *recipient), root.cert)
            t2 = time.perf_counter()
            assert verified.content == content
            send_ms.append((t1 - t0) * 1000)
            open_ms.append((t2 - t1) * 1000)
        s, o = summary_ms(sorted(send_ms)), summary_ms(sorted(open_ms))
        rows.append([f"{size_kb} KiB", n_recipients, s["p50"], s["p95"], o["p50"], o["p95"], round(len(der) / 1024)])
        results.append({"size_kib": size_kb, "recipients": n_recipients, "sign_encrypt_ms": s, "decrypt_verify_ms": o, "package_kib": len(der) / 1024})
    print(f"RSA-{bits}, {rounds} rounds each")
    print(table(["document", "recipients", "sign+encrypt p50 ms", "p95", "decrypt+verify p50 ms", "p95", "package KiB"], rows))
    print(write_result("exchange_cms", {"bits": bits, "rounds": rounds, "machine": machine(), "results": results}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--bits", type=int, default=3072)
    a = p.parse_args()
    asyncio.run(main(a.rounds, a.bits))
