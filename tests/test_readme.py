"""The README's commands run as written: every `.venv/bin/changtong …` line of its shell
blocks (but `serve`, which the other tests start), in order, in a fresh directory that
holds the repository's files and the data `make run` leaves (the demo's), each
answering exit 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]
    return [line for line in lines if line.startswith(".venv/bin/changtong") and " serve" not in line]


def _demo_data(cwd: Path, env: dict[str, str]) -> None:
    """What `make run` leaves in ./data: the demo organisation (serve --demo, then Ctrl+C)."""
    from tests.ports import free_port

    proc = subprocess.Popen([".venv/bin/changtong", "--data-dir", "data", "serve", "--demo", "--port", str(free_port())],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if "畅通已启动" in line:
                break
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_readme_has_the_commands_a_newcomer_runs():
    commands = readme_commands()
    for needed in ("unit add", "user add", "doc import", "doc export", "doc validate", "ca init", "ca issue",
                   "exchange peer add", "exchange send", "flow import", "bot add"):
        assert any(needed in c for c in commands), needed


def test_every_changtong_command_of_the_readme_runs_as_written(tmp_path: Path):
    for name in (".venv", "tests", "bots"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGTONG_")}
    env |= {"CHANGTONG_ARGON2_TIME_COST": "1", "CHANGTONG_ARGON2_MEMORY_KIB": "1024"}
    _demo_data(tmp_path, env)
    for command in readme_commands():
        if " doc render " in command and not Path("/usr/bin/soffice").exists() and os.environ.get("CI") != "true":
            continue  # LibreOffice: installed by `make test` (exchange_bridge/render/install.sh)
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert (tmp_path / "通知.xml").is_file() and (tmp_path / "通知.pdf").is_file()
