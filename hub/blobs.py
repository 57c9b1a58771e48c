"""Content-addressed blob store on a local (or shared) directory.

An upload streams into `tmp/` while its SHA-256 is computed, then is renamed into
`ab/cd/<sha256>` with one atomic `os.replace`; two writers of the same content end with
the same file. A failed or oversized upload leaves nothing behind."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from aiohttp import web

from .errors import TooLarge

log = logging.getLogger("changtong.blobs")

__all__ = ["BLOBS", "BlobStore"]


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def sweep_tmp(self, older_than_seconds: float = 24 * 3600) -> int:
        """Remove partial uploads left by a process that died mid-upload (a live upload
        touches its file continuously, and none takes a day). Returns how many went."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for part in self.tmp.glob("*.part"):
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # another node swept it first
        return removed

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def derived_path(self, sha256: str, suffix: str) -> Path:
        """Where a rendition of a blob (a thumbnail, say) is cached."""
        return self.root / "derived" / sha256[:2] / f"{sha256}.{suffix}"

    async def put_stream(self, chunks: AsyncIterator[bytes], limit: int) -> tuple[str, int]:
        """Store a stream; returns (sha256, size). Raises TooLarge past `limit` bytes."""
        digest = hashlib.sha256()
        size = 0
        tmp = self.tmp / f"{secrets.token_hex(16)}.part"
        try:
            with open(tmp, "wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge("error.file_too_large", limit_mib=limit // (1024 * 1024))
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                await asyncio.to_thread(os.fsync, f.fileno())  # can take seconds: not on the event loop
            sha = digest.hexdigest()
            final = self.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return sha, size
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes_derived(self, sha256: str, suffix: str, data: bytes) -> Path:
        target = self.derived_path(sha256, suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{secrets.token_hex(16)}.part"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target


BLOBS: Final = web.AppKey("blobs", BlobStore)


async def sweep_on_startup(app: web.Application) -> None:
    removed = await asyncio.to_thread(app[BLOBS].sweep_tmp)
    if removed:
        log.info("removed %d partial uploads left by an earlier process", removed)
