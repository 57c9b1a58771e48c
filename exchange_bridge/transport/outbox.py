"""The outbox worker: POSTs queued messages to neighbours over mutual TLS, with retries.

Rows live in `exchange_outbox`, so a restart (or a crash) loses nothing: the next
process picks up every row still `pending`. A failed attempt (the peer is down,
answers 5xx, or refuses our certificate) is retried after `base * 2^(attempts-1)`
seconds, capped at `max` and jittered by ±20 %; a 400 or 413 is final (the package
would be refused again). A row is claimed for a lease before it is sent, so two
processes sharing a database do not both send it (and if they did, the receiver
deduplicates by message id). The server must present the peer's registered certificate (pinned).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from datetime import timedelta
from typing import Any

import aiohttp
from hub.db import now
from hub.errors import HubError

from ..pki import client_context
from . import store
from .service import Exchange

__all__ = ["Outbox", "backoff"]

log = logging.getLogger(__name__)
PATH = "/exchange/v1/packages"
LEASE = timedelta(minutes=2)


def backoff(attempts: int, base: float, cap: float, rnd: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failure (1, 2, …)."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (rnd or random).uniform(0.8, 1.2)


class PeerError(Exception):
    def __init__(self, message: str, final: bool = False) -> None:
        self.final = final
        super().__init__(message)


class Outbox:
    def __init__(self, exchange: Exchange, *, base: float, cap: float, poll: float, timeout: float = 120) -> None:
        self.exchange = exchange
        self.base, self.cap, self.poll = base, cap, poll
        self.timeout = timeout
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}  # per peer fingerprint
        self._stopping = False
        exchange.queued.append(self._wake.set)

    async def start(self) -> None:
        """Run the worker in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name="exchange-outbox")

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=16), timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._http

    async def stop(self) -> None:
        if self._wake.set in self.exchange.queued:
            self.exchange.queued.remove(self._wake.set)
        if self._task is not None:
            # Let a round in progress finish (a cancel in the middle of an aiosqlite
            # statement could leave its connection waited for at shutdown); cancel only
            # the wait between rounds, or a round that takes too long.
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._http is not None:
            await self._http.close()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.run_once()
            except HubError as exc:  # the database is down: try again later
                log.warning("exchange outbox: %s", exc.key)
                sent = 0
            except Exception:
                log.exception("exchange outbox failed; retrying")
                sent = 0
            if sent or self._stopping:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll)
            except asyncio.TimeoutError:
                pass

    async def run_once(self) -> int:
        """Send every due row once; returns how many were attempted."""
        async with self.exchange.db.begin() as conn:
            rows = await store.claim_due(conn, 32, LEASE)
        if rows:
            await asyncio.gather(*(self._attempt(r) for r in rows))
        return len(rows)

    async def _attempt(self, row: dict[str, Any]) -> None:
        try:
            answer = await self._post(row)
        except PeerError as exc:
            if exc.final:
                log.warning("exchange: %s %s refused by %s: %s", row["kind"], row["message_id"], row["hop"], exc)
                await self.exchange.hop_refused(row, str(exc))
                return
            attempts = row["attempts"] + 1
            delay = backoff(attempts, self.base, self.cap)
            log.info("exchange: %s %s to %s failed (attempt %d, next in %.1fs): %s", row["kind"], row["message_id"], row["hop"], attempts, delay, exc)
            async with self.exchange.db.begin() as conn:
                await store.outbox_retry(conn, row["id"], attempts, now() + timedelta(seconds=delay), str(exc))
            return
        await self.exchange.hop_answered(row, answer)

    async def _post(self, row: dict[str, Any]) -> dict[str, Any]:
        async with self.exchange.db.connect() as conn:
            peer = (await store.peers(conn)).get(row["hop"])
        if peer is None or not peer["url"]:
            raise PeerError(f"no URL for neighbour {row['hop']}")
        try:
            body = await asyncio.to_thread(_read, row["path"])
        except OSError as exc:
            raise PeerError(f"package file missing: {exc}", final=True) from exc
        headers = {
            "Changtong-Kind": row["kind"], "Changtong-Id": row["message_id"], "Changtong-From": row["sender"],
            "Changtong-To": ",".join(row["units"]), "Content-Type": "application/pkcs7-mime",
        }
        try:
            async with self._session().post(peer["url"] + PATH, data=body, headers=headers, ssl=self._context(peer)) as resp:
                if resp.status in (400, 413):
                    raise PeerError(f"HTTP {resp.status}: {(await resp.text())[:300]}", final=True)
                if resp.status != 200:
                    raise PeerError(f"HTTP {resp.status}: {(await resp.text())[:300]}")
                return await resp.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise PeerError(f"{exc.__class__.__name__}: {exc}") from exc


    def _context(self, peer: dict[str, Any]) -> ssl.SSLContext:
        """TLS to `peer`: our certificate, and its registered certificate as the only anchor."""
        ctx = self._contexts.get(peer["fingerprint"])
        if ctx is None:
            pki = self.exchange.pki
            ctx = client_context(pki.identity.cert, pki.identity.key, pki.trust_file, pinned_pem=peer["cert_pem"])
            self._contexts[peer["fingerprint"]] = ctx
        return ctx


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


