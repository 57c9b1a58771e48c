"""Content-addressed blob store on a local (or shared) directory.

An upload streams into `tmp/` while its SHA-256 is computed, then is renamed into
`ab/cd/<sha256>` with one atomic `os.replace`; two writers of the same content end with
the same file. A failed or oversized upload leaves nothing behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from aiohttp import web

from .errors import TooLarge

__all__ = ["BLOBS", "BlobStore"]


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

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
