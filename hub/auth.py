"""Login and sessions: argon2 passwords, random bearer tokens stored as SHA-256
hashes with an expiry, revocation (logout, disabling a user), and login rate limits
per account and per address."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import sqlalchemy as sa
from aiohttp import web

from .config import Config
from .db import Database, now
from .errors import RateLimited, Unauthorized
from .passwords import Passwords
from .ratelimit import FailureWindow
from .schema import tokens, users

__all__ = ["AUTH", "Auth", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: the user behind a valid token."""

    user_id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    token_id: int
    is_bot: bool = False  # a program's account: shown with the 机器人 badge

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


_TOKEN_ROW = (
    sa.select(
        tokens.c.id,
        tokens.c.expires_at,
        tokens.c.revoked_at,
        users.c.id.label("user_id"),
        users.c.username,
        users.c.display_name,
        users.c.roles,
        users.c.disabled,
        users.c.is_bot,
    )
    .join(users, users.c.id == tokens.c.user_id)
    .where(tokens.c.token_hash == sa.bindparam("token_hash"))
)


def _token_row(conn: sa.Connection, token_hash: str) -> Any:
    """The token and its user (read by `hub.db.read`: one thread hop on SQLite)."""
    return conn.execute(_TOKEN_ROW, {"token_hash": token_hash}).first()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.config = config
        self.passwords = Passwords(config.argon2_time_cost, config.argon2_memory_kib)
        self._per_account = FailureWindow(config.login_attempts_per_account, config.login_window_seconds)
        self._per_address = FailureWindow(config.login_attempts_per_address, config.login_window_seconds)
        self._in_flight: dict[str, int] = {}  # address -> its logins being checked now

    async def login(self, username: str, password: str, address: str, client: str = "") -> tuple[str, int]:
        """Check credentials; return (token, user_id). Wrong password and unknown user
        give the same `Unauthorized`; too many failures give `RateLimited`.

        The account's attempt counts as a failure before the (slow) password check and is
        taken back on success: otherwise concurrent guesses at one account would all pass
        the check. The address counts only failures that happened, and how many of its
        logins are in progress: a hundred people behind one NAT address logging in at
        once are not a hundred failures."""
        account_key = (username or "").strip().lower()[:64]
        at = time.monotonic()
        in_flight = self._in_flight.get(address, 0)
        if (
            self._per_account.blocked(account_key, at)
            or self._per_address.blocked(address, at)
            or in_flight >= self.config.login_in_flight_per_address
        ):
            raise RateLimited("error.login_rate_limited")
        self._per_account.fail(account_key, at)
        self._in_flight[address] = in_flight + 1
        try:
            async with self.db.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(users.c.id, users.c.password_hash, users.c.disabled, users.c.is_bot).where(
                            users.c.username == account_key
                        )
                    )
                ).first()
            ok = await self.passwords.verify(row.password_hash if row else None, password or "")
        except BaseException:  # the database failed, not the password: no failure counted
            self._per_account.forgive(account_key, at)
            raise
        finally:
            left = self._in_flight.pop(address, 1) - 1
            if left > 0:
                self._in_flight[address] = left
        if not ok or row is None or row.disabled or row.is_bot:
            self._per_address.fail(address, time.monotonic())
            raise Unauthorized("error.bad_credentials")
        self._per_account.reset(account_key)
        return await self.issue_token(row.id, client), row.id

    async def check_current_password(self, username: str, password: str) -> None:
        """Before a password change: the current password, under the same per-account
        failure limit as login, so a stolen token cannot be used to guess it."""
        key = username.strip().lower()[:64]
        at = time.monotonic()
        if self._per_account.blocked(key, at):
            raise RateLimited("error.login_rate_limited")
        self._per_account.fail(key, at)
        async with self.db.connect() as conn:
            stored = (await conn.execute(sa.select(users.c.password_hash).where(users.c.username == key))).scalar()
        if not await self.passwords.verify(stored, password or ""):
            raise Unauthorized("error.bad_old_password")
        self._per_account.forgive(key, at)

    async def issue_token(self, user_id: int, client: str = "", ttl_hours: float | None = None) -> str:
        """A new token for the user, valid `ttl_hours` (default: `token_ttl_hours`)."""
        token = secrets.token_urlsafe(32)
        created = now()
        async with self.db.begin() as conn:
            await conn.execute(
                tokens.insert().values(
                    token_hash=hash_token(token),
                    user_id=user_id,
                    created_at=created,
                    expires_at=created + timedelta(hours=self.config.token_ttl_hours if ttl_hours is None else ttl_hours),
                    client=client[:200],
                )
            )
        return token

    async def principal(self, token: str | None) -> Principal:
        """The user a token belongs to, or `Unauthorized` (missing, unknown, expired,
        revoked, or the user is disabled)."""
        if not token or not isinstance(token, str) or len(token) > 200:
            raise Unauthorized("error.unauthorized")
        row = await self.db.read(_token_row, hash_token(token))
        if row is None or row.revoked_at is not None or row.disabled:
            raise Unauthorized("error.unauthorized")
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=now().tzinfo)
        if expires <= now():
            raise Unauthorized("error.token_expired")
        return Principal(row.user_id, row.username, row.display_name, tuple(row.roles.split()), row.id, bool(row.is_bot))

    async def revoke(self, token_id: int) -> None:
        async with self.db.begin() as conn:
            await conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=now()))

    async def revoke_all(self, conn: Any, user_id: int) -> None:
        """Inside the caller's transaction (disabling a user, changing a password)."""
        await conn.execute(
            tokens.update().where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None)).values(revoked_at=now())
        )


AUTH: Final = web.AppKey("auth", Auth)
