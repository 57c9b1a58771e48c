"""File sharing (文件共享): streamed uploads into the blob store, downloads with Range
for members of a channel where the file was shared, and bounded image thumbnails."""

from __future__ import annotations

import asyncio
import io
import mimetypes
import re
import secrets
from typing import Any
from urllib.parse import quote, unquote

import sqlalchemy as sa
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from PIL import Image

from hub.blobs import BLOBS
from hub.config import CONFIG
from hub.db import DATABASE, now
from hub.errors import BadRequest, NotFound, TooLarge
from hub.http import json_response, principal
from hub.schema import files

from .schema import channel_members, messages

THUMB_SIZE = (320, 320)
MAX_NAME = 255
MAX_MIME = 120
# What aiohttp's multipart reader raises on a body it cannot parse (bad boundary,
# invalid part headers, truncation): the client's fault, so 400, not 500.
MALFORMED_MULTIPART = (HttpProcessingError, ValueError)
FILE_ID = re.compile(r"[0-9a-f]{1,32}")  # ids are secrets.token_hex(12); anything else is no file


def clean_name(name: str) -> str:
    """A file name is data, never a path: keep the last component, drop control chars
    and lone surrogates (undecodable bytes in a multipart header arrive as those)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f" and not "\ud800" <= ch <= "\udfff").strip().lstrip(".")
    if len(name) > MAX_NAME:
        # Shorten the stem, not the extension: 《…很长的标题…》.docx stays a .docx.
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            name = stem[: MAX_NAME - len(ext) - 2] + "…." + ext
        else:
            name = name[: MAX_NAME - 1] + "…"
    return name or "file"


def form_filename(raw: str) -> str:
    """The filename of a multipart part as the user chose it. Browsers send UTF-8 and
    escape only `"`, CR and LF (as %22, %0D, %0A: the HTML standard); some clients
    (aiohttp's FormData, for one) percent-encode the whole name into ASCII."""
    if raw.isascii():
        try:
            return unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return raw
    return raw.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def make_thumbnail(path: str, max_pixels: int) -> tuple[bytes, int, int] | None:
    """PNG/JPEG thumbnail, or None for non-images. Decompression bombs raise."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(path) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise Image.DecompressionBombError("too many pixels")
            im.draft("RGB", THUMB_SIZE)
            im.thumbnail(THUMB_SIZE)
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue(), width, height
    except Image.DecompressionBombError:
        raise
    except (OSError, ValueError, SyntaxError):
        return None


async def upload(request: web.Request) -> web.Response:
    """`POST /api/v1/files` — multipart form with one `file` part, or a raw body with
    `?name=`. Streams to disk; past the size limit answers 413 and keeps nothing."""
    who = await principal(request)
    config = request.app[CONFIG]
    limit = config.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise TooLarge("error.file_too_large", limit_mib=limit // (1024 * 1024))
    blobs = request.app[BLOBS]
    if request.content_type.startswith("multipart/"):
        try:
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and getattr(part, "name", None) != "file":
                part = await reader.next()
        except MALFORMED_MULTIPART as exc:
            raise BadRequest("error.bad_request") from exc
        if part is None or not hasattr(part, "read_chunk"):
            raise BadRequest("error.upload_missing_file")
        name = clean_name(form_filename(part.filename or ""))
        mime = part.headers.get("Content-Type") or ""

        async def chunks():
            try:
                while chunk := await part.read_chunk(256 * 1024):
                    yield chunk
            except MALFORMED_MULTIPART as exc:
                raise BadRequest("error.bad_request") from exc
            if not part.at_eof():  # the body ended before the part's closing boundary
                raise BadRequest("error.bad_request")
    else:
        name = clean_name(request.query.get("name", ""))
        mime = request.content_type

        async def chunks():
            async for chunk in request.content.iter_chunked(256 * 1024):
                yield chunk

    mime = mime.strip()
    if len(mime) > MAX_MIME or not mime.isascii() or not mime.isprintable():
        mime = ""  # a client's Content-Type is data: stored and served back only if sane
    if not mime or mime in ("application/octet-stream", "multipart/form-data"):
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    sha, size = await blobs.put_stream(chunks(), limit)
    width = height = None
    has_thumb = False
    if mime.startswith("image/"):
        try:
            result = await asyncio.to_thread(make_thumbnail, str(blobs.path(sha)), config.thumbnail_max_pixels)
        except Image.DecompressionBombError:
            result = None
        if result is not None:
            data, width, height = result
            await asyncio.to_thread(blobs.put_bytes_derived, sha, "thumb.jpg", data)
            has_thumb = True
    file_id = secrets.token_hex(12)
    async with request.app[DATABASE].begin() as conn:
        await conn.execute(
            files.insert().values(
                id=file_id, sha256=sha, size=size, name=name, mime=mime, uploader_id=who.user_id,
                width=width, height=height, has_thumbnail=has_thumb, created_at=now(),
            )
        )
    body: dict[str, Any] = {"file_id": file_id, "name": name, "size": size, "mime": mime, "thumbnail": has_thumb}
    return json_response(body, status=201)


async def _visible_file(request: web.Request) -> Any:
    """The file row if the caller uploaded it or is a member of a channel where it was
    shared (and not recalled); otherwise not_found."""
    who = await principal(request)
    file_id = request.match_info["file_id"]
    if not FILE_ID.fullmatch(file_id):
        raise NotFound("error.file_not_found")
    async with request.app[DATABASE].connect() as conn:
        row = (await conn.execute(sa.select(files).where(files.c.id == file_id))).first()
        if row is None:
            raise NotFound("error.file_not_found")
        if row.uploader_id == who.user_id:
            return row
        shared = (
            await conn.execute(
                sa.select(messages.c.id)
                .join(
                    channel_members,
                    sa.and_(channel_members.c.channel_id == messages.c.channel_id, channel_members.c.user_id == who.user_id),
                )
                .where(messages.c.file_id == file_id, messages.c.recalled_at.is_(None))
                .limit(1)
            )
        ).first()
    if shared is None:
        raise NotFound("error.file_not_found")
    return row


def _disposition(name: str, inline: bool) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def download(request: web.Request) -> web.StreamResponse:
    row = await _visible_file(request)
    path = request.app[BLOBS].path(row.sha256)
    if not path.is_file():
        raise NotFound("error.file_not_found")
    response = web.FileResponse(path, headers={
        "Content-Type": row.mime,
        "Content-Disposition": _disposition(row.name, request.query.get("inline") == "1"),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, max-age=3600",
    })
    return response


async def thumbnail(request: web.Request) -> web.StreamResponse:
    row = await _visible_file(request)
    path = request.app[BLOBS].derived_path(row.sha256, "thumb.jpg")
    if not row.has_thumbnail or not path.is_file():
        raise NotFound("error.file_not_found")
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=86400"})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/files", upload),
        web.get("/api/v1/files/{file_id}", download),
        web.get("/api/v1/files/{file_id}/thumbnail", thumbnail),
    ]
