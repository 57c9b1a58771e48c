"""Reading a document file a user names: bounded, with the errors a person understands."""

from __future__ import annotations

import os
from pathlib import Path

from hub.errors import BadRequest, NotFound, TooLarge


def read_bounded(path: str | os.PathLike[str], max_bytes: int, not_a_file_key: str) -> bytes:
    """The file's bytes, or TooLarge past `max_bytes` (checked before reading, and again
    on what was read), NotFound, or BadRequest(`not_a_file_key`) for a directory."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise TooLarge("error.doc_too_large", what="file", size=size, limit=max_bytes)
        with p.open("rb") as f:
            data = f.read(size + 1)  # not max_bytes + 1: read(n) allocates n bytes up front
    except FileNotFoundError:
        raise NotFound("error.doc_file_not_found", path=str(path)) from None
    except IsADirectoryError:
        raise BadRequest(not_a_file_key, detail=f"{path} is a directory") from None
    if len(data) > max_bytes:  # it grew between the check and the read
        raise TooLarge("error.doc_too_large", what="file", size=len(data), limit=max_bytes)
    return data
