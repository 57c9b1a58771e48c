"""File sharing over real HTTP and real sockets: upload, share in a channel, download
(whole and by Range) by members only, the size limit (with and without Content-Length),
file names that are data and never paths, and bounded image thumbnails."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import time
import zlib
from pathlib import Path
from urllib.parse import quote, unquote

import aiohttp
import pytest
import sqlalchemy as sa
from PIL import Image

from hub.blobs import BLOBS
from hub.db import DATABASE
from hub.schema import files

LIMIT = 1024 * 1024


@pytest.fixture
def hub_settings():
    return {"max_upload_bytes": LIMIT}


# ---- helpers -------------------------------------------------------------------


async def upload(hub, who, data: bytes, filename: str, content_type: str | None = None) -> tuple[int, dict]:
    """Multipart upload with one `file` part."""
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type or "application/octet-stream")
    return await hub.request("POST", "/api/v1/files", token=who["token"], data=form)


def multipart(filename: bytes, content_type: bytes, data: bytes) -> tuple[bytes, dict]:
    """A multipart body built by hand, header bytes exactly as given."""
    boundary = b"----WebKitFormBoundaryq1w2e3r4t5y6u7i8"
    body = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: " + content_type + b"\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n"
    )
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary.decode()}


async def browser_upload(hub, who, data: bytes, filename: str, content_type: str = "application/octet-stream"):
    """Multipart as a browser builds it (HTML standard): the filename in raw UTF-8 with
    only `"`, CR and LF escaped as %22, %0D and %0A."""
    escaped = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    body, headers = multipart(escaped.encode(), content_type.encode(), data)
    return await hub.request("POST", "/api/v1/files", token=who["token"], data=body, headers=headers)


async def upload_raw(hub, who, body, name: str | None = None, content_type: str | None = None) -> tuple[int, dict]:
    """A raw body with `?name=`; `body` may be bytes or an async generator (chunked)."""
    params = {"name": name} if name is not None else {}
    headers = {"Content-Type": content_type} if content_type else {}
    return await hub.request("POST", "/api/v1/files", token=who["token"], data=body, params=params, headers=headers)


async def download(hub, who, file_id: str, suffix: str = "", headers: dict | None = None):
    """(status, body bytes or error json, response headers)."""
    h = dict(headers or {})
    if who is not None:
        h["Authorization"] = f"Bearer {who['token']}"
    async with hub.http.get(f"{hub.url}/api/v1/files/{file_id}{suffix}", headers=h) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.read()
        return resp.status, body, resp.headers


def blob_dir(hub) -> Path:
    return hub.config.data_dir / "blobs"


def stored_blobs(hub) -> list[Path]:
    """Content blobs (ab/cd/<sha256>), not temp files or derived renditions."""
    root = blob_dir(hub)
    return [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in ("tmp", "derived")]


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def png(width: int, height: int, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale PNG of huge dimensions that compresses to almost nothing:
    decoding it would allocate width*height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = bytearray()
    rows_per_block = 1000
    for start in range(0, height, rows_per_block):
        idat += comp.compress(row * min(rows_per_block, height - start))
    idat += comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", bytes(idat)) + chunk(b"IEND", b"")


async def trio(hub):
    """alice and bob share a private channel; carol is in the city but not in it."""
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    carol = await hub.user("carol", "卡罗尔")
    a = await hub.client(alice)
    r = await a.call("channel:create", {"name": "文件组", "kind": "private", "member_ids": [bob["id"]]})
    assert r["ok"], r
    return alice, bob, carol, a, r["channel"]["id"]


async def share(a, cid: int, file_id: str, client_msg_id: str = "f1") -> dict:
    ack = await a.call("message:send", {"channel_id": cid, "client_msg_id": client_msg_id, "file_id": file_id, "text": ""})
    assert ack["ok"], ack
    return ack["message"]


# ---- upload, share, download -----------------------------------------------------


async def test_upload_share_and_download_with_range(hub):
    alice, bob, carol, a, cid = await trio(hub)
    b = await hub.client(bob)
    content = bytes(range(256)) * 40  # 10 KiB, every byte value
    name = "会议纪要（第3期）.pdf"
    status, body = await upload(hub, alice, content, name)
    assert status == 201, body
    assert set(body) == {"file_id", "name", "size", "mime", "thumbnail"}
    assert body["name"] == name and body["size"] == len(content)
    assert body["mime"] == "application/pdf"  # guessed from the name for octet-stream
    assert body["thumbnail"] is False
    file_id = body["file_id"]

    msg = await share(a, cid, file_id)
    assert msg["kind"] == "file" and msg["text"] == ""
    assert {k: msg["file"][k] for k in ("file_id", "name", "size", "mime")} == {
        "file_id": file_id, "name": name, "size": len(content), "mime": "application/pdf",
    }
    pushed = await b.wait_for("message", lambda m: m["id"] == msg["id"])
    assert pushed["file"] == msg["file"]
    history = await b.call("history", {"channel_id": cid})
    assert history["messages"][-1]["file"]["file_id"] == file_id

    status, got, headers = await download(hub, bob, file_id)
    assert status == 200 and got == content
    assert headers["Content-Type"] == "application/pdf"
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name)}" in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1].split(";")[0]) == name
    assert headers["X-Content-Type-Options"] == "nosniff"

    status, part, headers = await download(hub, bob, file_id, headers={"Range": "bytes=10-19"})
    assert status == 206
    assert part == content[10:20] and len(part) == 10
    assert headers["Content-Range"] == f"bytes 10-19/{len(content)}"

    status, tail, _ = await download(hub, bob, file_id, headers={"Range": "bytes=-5"})
    assert status == 206 and tail == content[-5:]


async def test_non_member_gets_404_same_as_missing_file(hub):
    alice, bob, carol, a, cid = await trio(hub)
    status, body = await upload(hub, alice, b"secret minutes", "机密.txt")
    file_id = body["file_id"]
    await share(a, cid, file_id)

    status, err, _ = await download(hub, carol, file_id)
    assert status == 404 and err["error"]["code"] == "not_found" and err["error"]["message"]
    missing_status, missing, _ = await download(hub, carol, "0" * 24)
    assert (missing_status, missing) == (status, err)  # indistinguishable from a file that does not exist
    assert (await download(hub, carol, file_id, "/thumbnail"))[0] == 404
    assert (await download(hub, carol, file_id, headers={"Range": "bytes=0-3"}))[0] == 404

    status, err, _ = await download(hub, None, file_id)  # no token at all
    assert status == 401 and err["error"]["code"] == "unauthorized"

    # carol can't smuggle alice's file into a channel of her own either
    c = await hub.client(carol)
    own = (await c.call("channel:create", {"name": "卡罗尔的组", "kind": "private"}))["channel"]["id"]
    stolen = await c.call("message:send", {"channel_id": own, "client_msg_id": "steal", "file_id": file_id, "text": ""})
    assert stolen["ok"] is False and stolen["error"]["code"] == "not_found"
    assert (await download(hub, carol, file_id))[0] == 404


async def test_uploader_can_download_unshared_file_but_nobody_else(hub):
    alice, bob, carol, a, cid = await trio(hub)
    status, body = await upload(hub, alice, b"draft", "草稿.txt", "text/plain")
    assert status == 201 and body["mime"] == "text/plain"
    status, got, _ = await download(hub, alice, body["file_id"])
    assert status == 200 and got == b"draft"
    # bob shares a channel with alice, but the file was never shared there
    assert (await download(hub, bob, body["file_id"]))[0] == 404


async def test_recalled_file_message_stops_other_members_access(hub):
    alice, bob, carol, a, cid = await trio(hub)
    b = await hub.client(bob)
    status, body = await upload(hub, alice, b"v1 of the plan", "方案.txt")
    msg = await share(a, cid, body["file_id"])
    assert (await download(hub, bob, body["file_id"]))[0] == 200
    recalled = await a.call("message:recall", {"message_id": msg["id"]})
    assert recalled["ok"] and recalled["message"]["file"] is None
    update = await b.wait_for("message:update", lambda m: m["id"] == msg["id"])
    assert update["recalled"] is True and update["file"] is None
    assert (await download(hub, bob, body["file_id"]))[0] == 404
    assert (await download(hub, alice, body["file_id"]))[0] == 200  # still the uploader's


async def test_browser_and_client_encoded_file_names(hub):
    alice = await hub.user("alice")
    for name in ("会议纪要.docx", '关于"畅通"的通知.pdf', "100% 完成.txt", "a b+c.txt"):
        status, body = await browser_upload(hub, alice, b"x", name)
        assert status == 201 and body["name"] == name, (name, body)
        status, body = await upload(hub, alice, b"x", name)  # aiohttp percent-encodes the whole name
        assert status == 201 and body["name"] == name, (name, body)
    status, body = await browser_upload(hub, alice, b"x", "../../etc/passwd")
    assert body["name"] == "passwd"


async def test_garbage_in_part_headers_is_stored_as_sane_data(hub):
    alice, bob, carol, a, cid = await trio(hub)
    cases = [
        (b"\xff\xfe\xfd.txt", b"text/plain"),  # not UTF-8
        ("报告\u2028.txt".encode(), "text/plain; charset=\u4e2d".encode()),  # not ASCII
        (b"notes.txt", b"text/" + b"x" * 300),  # an absurd content type
        (("长" * 1000 + ".txt").encode(), b"text/plain"),  # far too long: cut to 255 characters
    ]
    for i, (filename, content_type) in enumerate(cases):
        body, headers = multipart(filename, content_type, b"data")
        status, up = await hub.request("POST", "/api/v1/files", token=alice["token"], data=body, headers=headers)
        assert status == 201, (filename, content_type, up)
        assert up["name"] and all(ch >= " " for ch in up["name"]) and up["name"].encode("utf-8")
        assert len(up["name"]) <= 255
        assert up["mime"] and up["mime"].isprintable() and len(up["mime"]) <= 120
        msg = await share(a, cid, up["file_id"], f"g{i}")
        assert {k: msg["file"][k] for k in ("name", "size", "mime")} == {k: up[k] for k in ("name", "size", "mime")}
        status, got, headers = await download(hub, bob, up["file_id"])
        assert status == 200 and got == b"data" and headers["Content-Type"].startswith(up["mime"].split(";")[0])


async def test_unparseable_multipart_is_bad_request_and_stores_nothing(hub):
    alice = await hub.user("alice")
    good, headers = multipart(b"a.txt", b"text/plain", b"data" * 1000)
    cases = [
        (multipart(b"a.txt", b"text/plain\x00", b"data")[0], headers),  # NUL in a part header
        (multipart(b"a.txt", b"\x7f", b"data")[0], headers),
        (multipart(b"a\x01\x1fb.txt", b"text/plain", b"data")[0], headers),  # control characters
        (good[: len(good) // 2], headers),  # truncated: the closing boundary never comes
        (b"no boundary anywhere" * 100, headers),
        (good, {"Content-Type": "multipart/form-data; boundary=" + "b" * 100}),  # boundary too long
        (good, {"Content-Type": "multipart/form-data; boundary=other"}),
    ]
    for body, hdrs in cases:
        status, err = await hub.request("POST", "/api/v1/files", token=alice["token"], data=body, headers=hdrs)
        assert status == 400 and err["error"]["code"] == "bad_request", (body[:60], hdrs, status, err)
        assert_nothing_stored(hub)
    status, up = await hub.request("POST", "/api/v1/files", token=alice["token"], data=good, headers=headers)
    assert status == 201 and up["size"] == 4000


async def test_malformed_file_ids_are_not_found(hub):
    alice = await hub.user("alice")
    status, up = await upload(hub, alice, b"abc", "a.txt")
    for bad in ("a%00b", "%00", "x" * 5000, up["file_id"].upper(), up["file_id"] + "%00", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..", "%ff"):
        for suffix in ("", "/thumbnail"):
            status, body, _ = await download(hub, alice, bad, suffix)
            assert status == 404 and body["error"]["code"] == "not_found", (bad, suffix, status, body)
    assert (await download(hub, alice, up["file_id"]))[1] == b"abc"


async def test_raw_body_upload(hub):
    alice, bob, carol, a, cid = await trio(hub)
    status, body = await upload_raw(hub, alice, b"a,b\n1,2\n", name="报表.csv", content_type="text/csv")
    assert status == 201 and body["name"] == "报表.csv" and body["mime"] == "text/csv" and body["size"] == 8
    status, got, _ = await download(hub, alice, body["file_id"])
    assert got == b"a,b\n1,2\n"
    status, body = await upload_raw(hub, alice, b"\x00\x01")  # no name at all
    assert status == 201 and body["name"] == "file"


async def test_multipart_without_file_part_is_bad_request(hub):
    alice = await hub.user("alice")
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("note", "no file here")
    status, body = await hub.request("POST", "/api/v1/files", token=alice["token"], data=form)
    assert status == 400 and body["error"]["code"] == "bad_request"
    status, body = await hub.request("POST", "/api/v1/files", data=b"x", params={"name": "a.txt"})
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert stored_blobs(hub) == []


async def test_a_slow_disk_flush_does_not_stall_the_hub(hub, monkeypatch):
    """The blob is fsynced before it is renamed into place; on a slow disk that takes a
    while, and every other connection must keep being served meanwhile."""
    alice, bob, carol, a, cid = await trio(hub)
    b = await hub.client(bob)
    real_fsync = os.fsync
    flushing = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_fsync(fd):
        loop.call_soon_threadsafe(flushing.set)  # (from whichever thread flushes)
        time.sleep(1.0)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    task = asyncio.ensure_future(upload_raw(hub, alice, b"q" * 300_000, name="slow.bin"))
    await asyncio.wait_for(flushing.wait(), 5)
    started = loop.time()
    assert (await b.call("channel:list", {}, timeout=5))["ok"]
    assert loop.time() - started < 0.5  # answered while the disk was still flushing
    assert not task.done()
    status, body = await task
    assert status == 201 and body["size"] == 300_000


# ---- size limit --------------------------------------------------------------------


def assert_nothing_stored(hub) -> None:
    assert list((blob_dir(hub) / "tmp").iterdir()) == []
    assert stored_blobs(hub) == []


def assert_too_large(status, body) -> None:
    assert status == 413, (status, body)
    assert set(body) == {"error"} and body["error"]["code"] == "too_large"
    assert "1" in body["error"]["message"]  # the limit (1 MB) is named


async def test_oversized_upload_with_content_length(hub):
    alice = await hub.user("alice")
    # just over the limit: passes the Content-Length pre-check, refused while streaming
    assert_too_large(*await upload_raw(hub, alice, b"x" * (LIMIT + 1), name="big.bin"))
    assert_nothing_stored(hub)
    # far over: refused from the Content-Length alone
    assert_too_large(*await upload_raw(hub, alice, b"y" * (3 * LIMIT), name="bigger.bin"))
    assert_too_large(*await upload(hub, alice, b"z" * (LIMIT + 10), "big.bin"))
    assert_nothing_stored(hub)
    # exactly the limit is fine, and the hub still works after the refusals
    status, body = await upload_raw(hub, alice, b"k" * LIMIT, name="ok.bin")
    assert status == 201 and body["size"] == LIMIT
    assert len(stored_blobs(hub)) == 1


async def test_oversized_chunked_upload_without_content_length(hub):
    alice = await hub.user("alice")

    async def stream(total: int, chunk: int = 64 * 1024):
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            sent += n
            yield b"c" * n

    assert_too_large(*await upload_raw(hub, alice, stream(2 * LIMIT), name="chunked.bin"))
    assert_nothing_stored(hub)

    form = aiohttp.FormData()
    form.add_field("file", stream(2 * LIMIT), filename="chunked.bin", content_type="application/octet-stream")
    assert_too_large(*await hub.request("POST", "/api/v1/files", token=alice["token"], data=form))
    assert_nothing_stored(hub)

    status, body = await upload_raw(hub, alice, stream(LIMIT - 3), name="fits.bin")
    assert status == 201 and body["size"] == LIMIT - 3


@pytest.mark.parametrize("framing", ["content-length", "chunked", "multipart"])
async def test_upload_cut_off_midway_leaves_nothing(hub, framing):
    """The client goes away halfway through the body: the partial file is deleted and
    no file row appears (a truncated body is never stored as if complete)."""
    alice = await hub.user("alice")
    head = f"POST /api/v1/files?name=cut.bin HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {alice['token']}\r\n"
    if framing == "content-length":
        request = (head + "Content-Length: 200000\r\n\r\n").encode() + b"a" * 100_000
    elif framing == "chunked":
        request = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"186a0\r\n" + b"b" * 100_000 + b"\r\n"
    else:
        request = (
            head + "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 200000\r\n\r\n"
            '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="m.bin"\r\n\r\n'
        ).encode() + b"m" * 100_000
    reader, writer = await asyncio.open_connection(*hub.url.removeprefix("http://").split(":"))
    writer.write(request)
    await writer.drain()
    tmp = blob_dir(hub) / "tmp"
    for _ in range(200):
        if list(tmp.iterdir()):
            break
        await asyncio.sleep(0.01)
    assert list(tmp.iterdir()), "the upload should be in progress"
    writer.close()
    for _ in range(300):
        if not list(tmp.iterdir()):
            break
        await asyncio.sleep(0.01)
    assert_nothing_stored(hub)
    async with hub.app[DATABASE].connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(files))).scalar_one() == 0


# ---- names are data ------------------------------------------------------------------


async def test_path_names_are_stored_as_plain_names(hub, tmp_path):
    alice = await hub.user("alice")
    before = all_files(tmp_path)
    for name in ("../../etc/passwd", "..\\..\\etc\\passwd", "/etc/passwd"):
        status, body = await upload_raw(hub, alice, b"root:x:0:0", name=name)
        assert status == 201 and body["name"] == "passwd", (name, body)
    status, body = await upload(hub, alice, b"root:x:0:0", "../../../etc/passwd")
    assert status == 201 and body["name"] == "passwd"
    for name, stored in (("..", "file"), ("../..", "file"), ("a\x00b\r\nc.txt", "abc.txt"), (".hidden", "hidden")):
        status, body = await upload_raw(hub, alice, b"n", name=name)
        assert status == 201 and body["name"] == stored, (name, body)
    created = all_files(tmp_path) - before
    blobs = blob_dir(hub).resolve()
    outside = [p for p in created if blobs not in p.resolve().parents and not p.name.startswith("changtong.db")]
    assert outside == []
    assert not (tmp_path / "etc").exists() and not (hub.config.data_dir / "etc").exists()
    status, got, headers = await download(hub, alice, body["file_id"])
    assert got == b"n"


async def test_a_long_name_keeps_its_extension(hub):
    alice = await hub.user("alice")
    name = "关于" + "进一步加强全市政务信息化项目建设管理" * 20 + "的实施意见（征求意见稿）.docx"
    status, body = await upload(hub, alice, b"PK", name)
    assert status == 201
    assert len(body["name"]) <= 255 and body["name"].endswith("….docx") and body["name"].startswith("关于进一步")


async def test_partial_uploads_of_a_dead_process_are_swept(hub):
    tmp = blob_dir(hub) / "tmp"
    stale, fresh = tmp / "dead.part", tmp / "live.part"
    stale.write_bytes(b"half an upload")
    fresh.write_bytes(b"uploading now")
    day_ago = time.time() - 25 * 3600
    os.utime(stale, (day_ago, day_ago))
    assert hub.app[BLOBS].sweep_tmp() == 1
    assert not stale.exists() and fresh.exists()


async def test_markup_in_names_is_kept_as_text(hub):
    alice, bob, carol, a, cid = await trio(hub)
    name = '<img src=x onerror=alert(1)>"报告".html'
    status, body = await upload(hub, alice, b"<script>alert(1)</script>", name, "text/html")
    assert status == 201 and body["name"] == name
    msg = await share(a, cid, body["file_id"])
    assert msg["file"]["name"] == name
    status, got, headers = await download(hub, bob, body["file_id"])
    assert status == 200 and got == b"<script>alert(1)</script>"
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;")  # never rendered inline by default
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name
    ascii_part = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert "<img src=x onerror=alert(1)>" in ascii_part and '"' not in ascii_part
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]


# ---- thumbnails ---------------------------------------------------------------------------


async def test_png_gets_a_bounded_jpeg_thumbnail(hub):
    alice, bob, carol, a, cid = await trio(hub)
    image = png(800, 600)
    status, body = await upload(hub, alice, image, "现场照片.png", "image/png")
    assert status == 201 and body["thumbnail"] is True and body["mime"] == "image/png"
    msg = await share(a, cid, body["file_id"])
    assert msg["file"]["thumbnail"] is True
    status, thumb, headers = await download(hub, bob, body["file_id"], "/thumbnail")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb)) as im:
        assert im.format == "JPEG"
        assert max(im.size) <= 320 and im.size == (320, 240)
    status, got, _ = await download(hub, bob, body["file_id"])
    assert got == image
    assert (await download(hub, carol, body["file_id"], "/thumbnail"))[0] == 404

    status, body = await upload(hub, alice, b"plain text", "说明.txt", "text/plain")
    assert body["thumbnail"] is False
    assert (await download(hub, alice, body["file_id"], "/thumbnail"))[0] == 404
    # an "image" that isn't one is still a file, without a thumbnail
    status, body = await upload(hub, alice, b"GIF89a not really", "假图.gif", "image/gif")
    assert status == 201 and body["thumbnail"] is False


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(30000, 30000), (6400, 6400)], ids=["huge", "just-over-limit"])
async def test_decompression_bomb_is_a_file_without_thumbnail(hub, size):
    alice, bob, carol, a, cid = await trio(hub)
    bomb = bomb_png(*size)
    assert len(bomb) < LIMIT
    started = time.monotonic()
    upload_task = asyncio.ensure_future(upload(hub, alice, bomb, "bomb.png", "image/png"))
    # the hub keeps answering while the upload is processed
    while not upload_task.done():
        assert (await a.call("channel:list", timeout=2))["ok"]
        await asyncio.sleep(0.01)
    status, body = upload_task.result()
    assert time.monotonic() - started < 10
    assert status == 201 and body["thumbnail"] is False and body["size"] == len(bomb)
    assert (await download(hub, alice, body["file_id"], "/thumbnail"))[0] == 404
    status, got, _ = await download(hub, alice, body["file_id"])
    assert status == 200 and got == bomb
    assert not (blob_dir(hub) / "derived").exists() or all_files(blob_dir(hub) / "derived") == set()
    # and a normal image still gets its thumbnail afterwards
    status, body = await upload(hub, alice, png(100, 50), "ok.png", "image/png")
    assert body["thumbnail"] is True
