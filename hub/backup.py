"""`changtong backup DIR` and `changtong restore DIR`: a consistent online snapshot of a
node, and putting it back into a fresh one.

A node's state is its database and the files of its data directory: the blob store
(uploads), each feature's files (the exchange's packages and receipts, its PKI with the
unit's private key), settings. The database is snapshotted while the hub runs — SQLite
through its online backup API (every `*.db` under the data directory, a demo peer's
included), PostgreSQL with `pg_dump --format=custom` — and the files are copied after
it. Files are written before the rows that name them commit (blobs are
content-addressed and fsynced first, packages likewise), so every file the snapshot's
rows name is there when it is copied; a file newer than the snapshot is harmless extra.

The backup holds private keys and every document: keep it as safe as the node (it is
written with mode 0700). Pure file and subprocess work: no app is started.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from .config import Config
from .errors import BadRequest, Unavailable

__all__ = ["BackupSummary", "backup", "restore"]

MANIFEST = "manifest.json"
FILES = "files"
PG_DUMP = "database.pgdump"
SQLITE_SUFFIXES = (".db", ".db-wal", ".db-shm", ".db-journal")


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    engine: str
    databases: int
    files: int
    bytes: int


def _pg_url(config: Config) -> str:
    """The libpq form of the configured PostgreSQL URL (without the +asyncpg driver)."""
    url = sa.make_url(config.effective_database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(cmd: list[str], what: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError as exc:
        raise Unavailable("error.backup_tool_missing", tool=cmd[0]) from exc
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [""])[-1]
        raise Unavailable("error.backup_failed", what=what, detail=detail[:300])
    return done.stdout


def _empty_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BadRequest("error.backup_target_not_empty", path=str(path))
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _is_sqlite_file(p: Path) -> bool:
    return p.name.endswith(SQLITE_SUFFIXES)


def backup(config: Config, dest: Path) -> BackupSummary:
    """Snapshot the node into `dest` (which must be new or empty)."""
    data = config.data_dir.resolve()
    dest = dest.resolve()
    if dest == data or data in dest.parents:
        raise BadRequest("error.backup_inside_data_dir", path=str(dest))
    if not data.is_dir():
        raise BadRequest("error.backup_no_data_dir", path=str(data))
    _empty_dir(dest)
    (dest / FILES).mkdir()
    engine = sa.make_url(config.effective_database_url).get_backend_name()
    databases = 0
    # 1. the databases, online and consistent
    if engine == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dest / PG_DUMP), _pg_url(config)], "pg_dump")
        databases += 1
    for db_file in sorted(data.rglob("*.db")):
        target = dest / FILES / db_file.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=30)
        try:
            out = sqlite3.connect(target)
            try:
                src.backup(out)
            finally:
                out.close()
        finally:
            src.close()
        databases += 1
    # 2. the files, after the databases
    files = size = 0
    for path in sorted(data.rglob("*")):
        if path.is_dir() or _is_sqlite_file(path) or ".tmp" in path.name:
            continue
        target = dest / FILES / path.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        files += 1
        size += target.stat().st_size
    manifest = {
        "format": 1, "created_at": datetime.now(UTC).isoformat(), "engine": engine, "databases": databases,
        "files": files, "bytes": size,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return BackupSummary(dest, engine, databases, files, size)


def restore(config: Config, src: Path) -> BackupSummary:
    """Put a backup back into the configured data directory (which must hold no
    database yet) and, for PostgreSQL, into the configured (empty) database."""
    src = src.resolve()
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadRequest("error.backup_not_a_backup", path=str(src)) from exc
    data = config.data_dir.resolve()
    if data.exists() and any(p for p in data.rglob("*") if p.is_file()):
        raise BadRequest("error.backup_target_not_empty", path=str(data))
    engine = sa.make_url(config.effective_database_url).get_backend_name()
    if engine != manifest.get("engine"):
        raise BadRequest("error.backup_engine_mismatch", backup=str(manifest.get("engine")), target=engine)
    if engine == "postgresql":  # the database first: a refusal there leaves the data directory as it was
        tables = _run(["psql", "-tAc", "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                       _pg_url(config)], "psql")
        if tables.strip() != "0":
            raise BadRequest("error.backup_database_not_empty", url=sa.make_url(config.effective_database_url).render_as_string())
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", _pg_url(config), str(src / PG_DUMP)], "pg_restore")
    data.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src / FILES, data, dirs_exist_ok=True)
    for key in (data / "pki").rglob("*.key") if (data / "pki").is_dir() else ():
        os.chmod(key, 0o600)
    return BackupSummary(src, engine, int(manifest.get("databases", 0)), int(manifest.get("files", 0)), int(manifest.get("bytes", 0)))
