"""How long the `changtong` command takes to answer, by sub-command (wall time of the
whole process, Python's start included). An administrator's command should answer in
well under half a second; `--help` must not import the hub.

    .venv/bin/python bench/cli.py            # 10 runs each
    .venv/bin/python bench/cli.py --runs 30

Prints a table and writes bench/results/cli-<time>.json. Never asserts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import summary_ms, table, write_result  # noqa: E402

BIN = Path(sys.executable).parent / "changtong"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    subprocess.run([str(BIN), "--data-dir", str(data), "db", "upgrade"], check=True, capture_output=True)
    commands = {
        "--help": ["--help"],
        "doc --help": ["doc", "--help"],
        "exchange --help": ["exchange", "--help"],
        "db upgrade (nothing to do)": ["--data-dir", str(data), "db", "upgrade"],
    }
    rows, out = [], {}
    for label, argv in commands.items():
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run([str(BIN), *argv], check=True, capture_output=True)
            times.append((time.perf_counter() - started) * 1000)
        s = summary_ms(times)
        out[label] = s
        rows.append([label, s["p50"], s["max"]])
    print(table(["command", "p50 ms", "max ms"], rows))
    print(write_result("cli", {"runs": args.runs, "commands": out}))


if __name__ == "__main__":
    main()
