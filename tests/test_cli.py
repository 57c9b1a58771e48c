"""The `changtong` command, run as the installed console script in a subprocess (SQLite,
temporary directories), and how settings are read: flags, CHANGTONG_* variables, the
TOML file. Each run of the command costs about two seconds of imports, so independent
runs go side by side."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from hub.cli import main
from hub.config import Config, load_config
from hub.passwords import Passwords
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
CHANGTONG = Path(sys.executable).with_name("changtong")
if not CHANGTONG.exists():  # pragma: no cover - another environment layout
    CHANGTONG = Path(shutil.which("changtong") or ROOT / ".venv" / "bin" / "changtong")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any CHANGTONG_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGTONG_")}
    env.update(extra)
    return env


async def changtong(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    proc = await asyncio.create_subprocess_exec(
        str(CHANGTONG), *args, cwd=cwd, env=env or clean_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return Run(proc.returncode, out.decode(), err.decode())


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(autouse=True)
def no_changtong_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CHANGTONG_"):
            monkeypatch.delenv(key)


# ---- managing a hub from the command line ----------------------------------------------------------


async def _db_upgrade(tmp: Path) -> None:
    data = tmp / "fresh" / "data"  # not there yet
    run = await changtong("--data-dir", str(data), "db", "upgrade", cwd=tmp)
    assert run.code == 0 and "数据库已升级" in run.out, run
    tables = {name for (name,) in query(data / "changtong.db", "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"units", "users", "posts", "tokens", "alembic_version"} <= tables
    assert query(data / "changtong.db", "SELECT count(*) FROM users") == [(0,)]


async def _add_units_and_users(tmp_path: Path) -> None:
    data = tmp_path / "data-here"
    db = data / "changtong.db"
    data.mkdir()
    (data / "changtong.toml").write_text("argon2_time_cost = 1\nargon2_memory_kib = 1024\n", encoding="utf-8")
    flag = ("--data-dir", str(data))
    env = clean_env(CHANGTONG_DATA_DIR=str(data))

    run = await changtong(*flag, "unit", "add", "dy", "东营市", cwd=tmp_path)
    assert run.code == 0 and "已添加单位" in run.out and "dy 东营市" in run.out, run
    run = await changtong("unit", "add", "dy-zf", "东营市人民政府", "--parent", "dy", cwd=tmp_path, env=env)
    assert run.code == 0 and "dy-zf 东营市人民政府" in run.out, run
    assert query(db, "SELECT c.code, p.code FROM units c LEFT JOIN units p ON p.id = c.parent_id ORDER BY c.id") == [
        ("dy", None), ("dy-zf", "dy"),
    ]

    run = await changtong("user", "add", "Admin", "--password", "admin-pw-123", "--display-name", "系统管理员",
                          "--unit", "dy-zf", "--role", "admin", "--title", "主任", cwd=tmp_path, env=env)
    assert run.code == 0 and "已添加用户" in run.out and "admin" in run.out, run
    [(user_id, username, name, roles, password_hash, pinyin)] = query(
        db, "SELECT id, username, display_name, roles, password_hash, pinyin FROM users"
    )
    assert (username, name, roles, pinyin) == ("admin", "系统管理员", "admin", "xitongguanliyuan")
    assert password_hash.startswith("$argon2id$v=19$m=1024,t=1,")  # the TOML file's settings
    assert await Passwords().verify(password_hash, "admin-pw-123")
    assert not await Passwords().verify(password_hash, "wrong-pw-123")
    assert query(db, f"SELECT u.code, p.title FROM posts p JOIN units u ON u.id = p.unit_id WHERE p.user_id = {user_id}") == [
        ("dy-zf", "主任")
    ]
    # a unit channel came with each unit, and the administrator is a member of theirs
    assert query(db, "SELECT u.code FROM channels c JOIN units u ON u.id = c.unit_id "
                     "JOIN channel_members m ON m.channel_id = c.id ORDER BY u.code") == [("dy-zf",)]

    # the same username again: a clear message in Chinese, exit 1, no traceback, nothing
    # added; and the flag wins over the environment
    elsewhere = tmp_path / "elsewhere"
    run = await changtong(*flag, "user", "add", "admin", "--password", "other-pw-123", cwd=tmp_path,
                          env=clean_env(CHANGTONG_DATA_DIR=str(elsewhere)))
    assert run.code == 1, run
    assert run.err == "用户名 admin 已存在 (conflict)\n" and run.out == "", run
    assert query(db, "SELECT count(*) FROM users") == [(1,)]
    assert not elsewhere.exists() and not (tmp_path / "data").exists()  # nothing went anywhere else


async def test_setting_up_a_hub_from_the_command_line(tmp_path):
    """`db upgrade`; then add units and an administrator with `--data-dir` and with
    `CHANGTONG_DATA_DIR` (any command migrates first); `<data_dir>/changtong.toml` is
    read (its cheap argon2 settings show in the stored hash). Each run costs seconds,
    so the upgrade of another directory goes alongside."""
    await asyncio.gather(_db_upgrade(tmp_path), _add_units_and_users(tmp_path))


# The error paths below call the same entry point in this process: a subprocess per
# case would cost seconds each, and what is checked is only exit code and message.


@pytest.fixture
def root_logger_restored():
    """`main()` configures logging for a process; give pytest its root logger back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = main(list(args))
    out, err = capsys.readouterr()
    return Run(code, out, err)


def test_cli_errors_are_one_clear_line(tmp_path, capsys, root_logger_restored):
    data = str(tmp_path / "data")
    assert cli(capsys, "--data-dir", data, "unit", "add", "dy", "东营市").code == 0
    run = cli(capsys, "--data-dir", data, "unit", "add", "dy", "重复")
    assert (run.code, run.err) == (1, "单位代码 dy 已存在 (conflict)\n"), run
    run = cli(capsys, "--data-dir", data, "unit", "add", "orphan", "孤儿单位", "--parent", "nope")
    assert (run.code, run.err) == (1, "单位 nope 不存在 (not_found)\n"), run
    run = cli(capsys, "--data-dir", data, "user", "add", "张三", "--password", "whatever-pw")
    assert run.code == 1 and run.err.startswith("用户名须为") and run.err.endswith("(bad_request)\n"), run
    run = cli(capsys, "--data-dir", data, "user", "add", "zhangsan", "--password", "whatever-pw", "--unit", "nope")
    assert (run.code, run.err) == (1, "单位 nope 不存在 (not_found)\n"), run
    assert query(tmp_path / "data" / "changtong.db", "SELECT count(*) FROM users") == [(0,)]  # not half-added


def test_bad_settings_are_reported_not_raised(tmp_path, capsys, root_logger_restored):
    data = tmp_path / "data"
    data.mkdir()
    (data / "changtong.toml").write_text("prot = 8081\n", encoding="utf-8")  # a typo
    run = cli(capsys, "--data-dir", str(data), "db", "upgrade")
    assert run.code == 2 and run.err.startswith("配置错误") and "prot" in run.err, run
    assert not (data / "changtong.db").exists()


# ---- settings ------------------------------------------------------------------------------------------


def test_settings_come_from_flags_then_environment_then_toml(tmp_path, monkeypatch):
    data = tmp_path / "d"
    data.mkdir()
    (data / "changtong.toml").write_text(
        'port = 9123\nhost = "0.0.0.0"\nlogin_attempts_per_account = 7\n', encoding="utf-8"
    )
    config = load_config(data_dir=data)
    assert (config.port, config.host, config.login_attempts_per_account) == (9123, "0.0.0.0", 7)
    assert config.token_ttl_hours == Config.model_fields["token_ttl_hours"].default  # untouched: the default
    assert config.effective_database_url == f"sqlite+aiosqlite:///{(data / 'changtong.db').resolve()}"

    monkeypatch.setenv("CHANGTONG_DATA_DIR", str(data))
    assert load_config().port == 9123  # the TOML file is found through the variable too
    monkeypatch.setenv("CHANGTONG_PORT", "9200")
    assert load_config().port == 9200  # the environment beats the file
    assert load_config(port=9300, host=None).port == 9300  # a flag beats both; None means "not given"
    assert load_config().host == "0.0.0.0"

    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("login_window_seconds = 60\n", encoding="utf-8")
    monkeypatch.setenv("CHANGTONG_CONFIG", str(elsewhere))
    config = load_config()
    assert (config.login_window_seconds, config.host) == (60, "127.0.0.1")  # only the named file is read


def test_a_missing_named_settings_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CHANGTONG_CONFIG", str(tmp_path / "no-such.toml"))
    with pytest.raises(Exception, match="no-such.toml"):
        load_config(data_dir=tmp_path)


def test_docs_describe_every_setting():
    docs = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    from hub.config import feature_sections

    sections = dict(feature_sections())
    missing = [name for name in Config.model_fields if name not in sections and f"`{name}`" not in docs]
    for name, model in sections.items():  # a feature's section
        missing += [f"{name}.{sub}" for sub in model.model_fields if f"`CHANGTONG_{name.upper()}__{sub.upper()}`" not in docs]
        if f"`[{name}]`" not in docs:
            missing.append(f"[{name}]")
    assert not missing, f"docs/settings.md does not describe: {missing}"


# ---- the demo ----------------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_serve_demo_starts_and_its_logins_work(tmp_path):
    port = free_port()
    data = tmp_path / "demo-data"
    with open(tmp_path / "stderr.log", "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            str(CHANGTONG), "serve", "--demo", "--port", str(port), "--data-dir", str(data),
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            env=clean_env(CHANGTONG_ARGON2_TIME_COST="1", CHANGTONG_ARGON2_MEMORY_KIB="1024"),  # quicker logins
        )
        try:
            lines: list[str] = []
            while not any("畅通已启动" in line for line in lines):
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
                assert line, "changtong serve exited:\n" + "".join(lines) + (tmp_path / "stderr.log").read_text()
                lines.append(line.decode())
            out = "".join(lines)
            assert f"http://127.0.0.1:{port}/" in out
            assert "密码 password: changtong" in out
            start = next(i for i, line in enumerate(lines) if "演示账号" in line)
            logins = [line.split()[0] for line in lines[start + 1:] if line.startswith("  ")]
            assert logins[0] == "admin" and len(logins) >= 3, out
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    assert resp.status == 200 and (await resp.json()) == {"status": "ok"}
                for username in (logins[0], logins[-1]):
                    async with http.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                                         json={"username": username, "password": "changtong"}) as resp:
                        body = await resp.json()
                        assert resp.status == 200 and body["user"]["username"] == username, body
                async with http.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                                     json={"username": logins[-1], "password": "not-changtong"}) as resp:
                    assert resp.status == 401
            proc.send_signal(signal.SIGINT)  # Ctrl+C stops it cleanly
            assert await asyncio.wait_for(proc.wait(), 20) == 0
            assert "Traceback" not in (tmp_path / "stderr.log").read_text()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def test_serve_runs_on_uvloop_unless_told_otherwise(tmp_path):
    import uvloop

    from hub.cli import _loop_factory

    assert _loop_factory(Config(data_dir=tmp_path)) is uvloop.new_event_loop
    assert _loop_factory(Config(data_dir=tmp_path, uvloop=False)) is None  # asyncio's own loop
