"""Open an Office (OOXML) zip only when it is safe to: bounded size, members, ratio, memory.

A .docx is a zip of XML parts. Before python-docx sees one, `checked_package` reads
every member through a capped decompressor, so a zip bomb (a member that inflates
without end, or lies about its size), a malformed zip or a huge file is refused within
milliseconds and without holding more than the limits in memory. XML parts must carry
no DTD: Office never writes one, and a DTD is how entity bombs and XXE get in.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from hub.errors import BadRequest, TooLarge

__all__ = ["ZipLimits", "checked_package"]


@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_file_bytes: int = 20 * 1024 * 1024          # the .docx itself
    max_members: int = 1000
    max_member_bytes: int = 16 * 1024 * 1024        # one member, inflated
    max_total_bytes: int = 48 * 1024 * 1024         # all members, inflated
    max_ratio: int = 100                            # inflated / compressed, for members over 1 MiB
    ratio_floor: int = 1024 * 1024


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003, WPS, and encrypted OOXML all start so


def checked_package(data: bytes, limits: ZipLimits = ZipLimits()) -> bytes:
    """Return `data` unchanged once every member has been inflated within the limits.

    Raises TooLarge (error.doc_too_large), BadRequest (error.doc_zip_bomb,
    error.doc_old_format, error.doc_not_docx)."""
    if len(data) > limits.max_file_bytes:
        raise TooLarge("error.doc_too_large", what="file", size=len(data), limit=limits.max_file_bytes)
    if data.startswith(_OLE2):
        raise BadRequest("error.doc_old_format")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, EOFError, OSError) as exc:
        raise BadRequest("error.doc_not_docx", detail=f"not a zip archive ({exc})") from None
    if len(members) > limits.max_members:
        raise TooLarge("error.doc_too_large", what="members", size=len(members), limit=limits.max_members)
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        raise BadRequest("error.doc_not_docx", detail="no word/document.xml")
    # Declared sizes first: cheap, and most bombs admit what they are.
    declared = 0
    for m in members:
        _check_ratio(m.filename, m.file_size, m.compress_size, limits)
        if m.file_size > limits.max_member_bytes:
            raise TooLarge("error.doc_too_large", what=m.filename, size=m.file_size, limit=limits.max_member_bytes)
        declared += m.file_size
    if declared > limits.max_total_bytes:
        raise TooLarge("error.doc_too_large", what="content", size=declared, limit=limits.max_total_bytes)
    # Then inflate for real, capped: headers can lie.
    total = 0
    for m in members:
        if m.is_dir():
            continue
        size = 0
        head = b""
        try:
            with archive.open(m) as f:
                while chunk := f.read(256 * 1024):
                    size += len(chunk)
                    total += len(chunk)
                    if size > limits.max_member_bytes or size > m.file_size:
                        raise BadRequest("error.doc_zip_bomb", member=m.filename, ratio=size // max(m.compress_size, 1))
                    if total > limits.max_total_bytes:
                        raise TooLarge("error.doc_too_large", what="content", size=total, limit=limits.max_total_bytes)
                    if m.filename.endswith((".xml", ".rels")):
                        if b"<!DOCTYPE" in head[-16:] + chunk or b"<!ENTITY" in head[-16:] + chunk:
                            raise BadRequest("error.doc_not_docx", detail=f"{m.filename} declares a DTD")
                        head = chunk
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, ValueError, EOFError, OSError, RuntimeError) as exc:
            raise BadRequest("error.doc_not_docx", detail=f"{m.filename}: {exc}") from None
        _check_ratio(m.filename, size, m.compress_size, limits)
    return data


def _check_ratio(name: str, inflated: int, compressed: int, limits: ZipLimits) -> None:
    if inflated > limits.ratio_floor and inflated > limits.max_ratio * max(compressed, 1):
        raise BadRequest("error.doc_zip_bomb", member=name, ratio=inflated // max(compressed, 1))
