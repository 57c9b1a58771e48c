"""`changtong backup` while the hub serves, `changtong restore` into a fresh directory (and,
on PostgreSQL, a fresh database): a second hub started on the restored copy finds every
message, the shared file with its bytes, and the members' logins. Refusals are one clear
line: a non-empty target, a directory that is no backup, another engine."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from hub.backup import backup, restore
from hub.cli import main
from hub.errors import BadRequest
from tests.conftest import PG_SERVER, _pg_admin, hub_config, serve
from tests.test_files import download, upload


async def test_a_backup_taken_while_serving_restores_every_message_and_file(hub, tmp_path: Path) -> None:
    alice, bob = await hub.user("alice", "李娜"), await hub.user("bob", "王强")
    a = await hub.client(alice)
    cid = (await a.call("channel:create", {"name": "值班", "kind": "private", "member_ids": [bob["id"]]}))["channel"]["id"]
    status, up = await upload(hub, alice, "预算草案".encode() * 5000, "2027年预算草案.txt")
    assert status == 201, up
    file_id = up["file_id"]
    sent = [
        (await a.call("message:send", {"channel_id": cid, "client_msg_id": f"m{i}", "text": f"第{i}条：安全生产检查"}))["message"]
        for i in range(20)
    ]
    shared = await a.call("message:send", {"channel_id": cid, "client_msg_id": "f", "file_id": file_id})
    assert shared["ok"], shared

    done = backup(hub.config, tmp_path / "backup")  # online: the hub is running
    assert done.databases >= 1 and done.files >= 1
    after = await a.call("message:send", {"channel_id": cid, "client_msg_id": "late", "text": "备份之后"})
    assert after["ok"]

    # a fresh node: a new data directory and, on PostgreSQL, a new empty database
    fresh_url = ""
    if hub.config.effective_database_url.startswith("postgresql"):
        name = f"changtong_restore_{uuid.uuid4().hex[:8]}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        fresh_url = f"{PG_SERVER}/{name}"
    config = hub_config(tmp_path / "restored", fresh_url)
    try:
        restore(config, tmp_path / "backup")
        copy, runner = await serve(config)
        try:
            token = await copy.login("bob", "secret-pw-1")
            b = await copy.client({"token": token})
            history = (await b.call("history", {"channel_id": cid, "limit": 100}))["messages"]
            assert [m["text"] for m in history if m["kind"] == "text"] == [m["text"] for m in sent]  # not "备份之后"
            status, body, _ = await download(copy, {"token": token}, file_id)
            assert status == 200 and body == "预算草案".encode() * 5000
        finally:
            await copy.close()
            await runner.cleanup()
    finally:
        if fresh_url:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{fresh_url.rsplit("/", 1)[1]}" WITH (FORCE)')


async def test_restore_refuses_what_would_mix_two_nodes(hub, tmp_path: Path) -> None:
    backup(hub.config, tmp_path / "b")
    with pytest.raises(BadRequest) as refused:
        backup(hub.config, tmp_path / "b")  # not empty
    assert refused.value.key == "error.backup_target_not_empty"
    with pytest.raises(BadRequest) as refused:
        restore(hub.config, tmp_path / "b")  # the live node: its database, its data directory
    assert refused.value.key in ("error.backup_target_not_empty", "error.backup_database_not_empty")
    with pytest.raises(BadRequest) as refused:
        restore(hub_config(tmp_path / "other", ""), tmp_path)  # no manifest
    assert refused.value.key == "error.backup_not_a_backup"


def test_the_commands_answer_in_one_line(tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "user", "add", "zhang", "--password", "S3cret!pw", "--display-name", "张三"]) == 0
    assert main(["--data-dir", str(data), "backup", str(tmp_path / "bk")]) == 0
    assert "已备份" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path / "new"), "restore", str(tmp_path / "bk")]) == 0
    assert "已恢复" in capsys.readouterr().out
    assert (tmp_path / "new" / "changtong.db").is_file()
    assert main(["--data-dir", str(tmp_path / "new"), "restore", str(tmp_path / "bk")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "不是空目录" in err[0], err
