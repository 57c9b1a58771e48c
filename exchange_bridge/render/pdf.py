"""Word file → PDF with Debian's LibreOffice, headless, in a subprocess.

Each conversion runs in a private temporary directory with its own LibreOffice user
profile (``-env:UserInstallation``), so parallel runs never share a profile lock, and
with FONTCONFIG_FILE set to the shipped fonts.conf, which maps the standard font names
(方正小标宋简体, 仿宋_GB2312, 黑体, 楷体_GB2312, 宋体) to the free fonts Debian ships.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from hub.errors import BadRequest, Unavailable

__all__ = ["FONTS_CONF", "FONT_MAP", "INSTALL_SCRIPT", "docx_to_pdf", "missing_fonts", "page_count", "soffice"]

HERE: Final = Path(__file__).resolve().parent
FONTS_CONF: Final = HERE / "fonts.conf"
INSTALL_SCRIPT: Final = HERE / "install.sh"
DEFAULT_TIMEOUT: Final = 120.0

# The standard names the Word file uses → the family fonts.conf must map each to.
FONT_MAP: Final = {
    "方正小标宋简体": "Noto Serif CJK SC",
    "仿宋_GB2312": "FandolFang",
    "黑体": "Noto Sans CJK SC",
    "楷体_GB2312": "FandolKai",
    "宋体": "Noto Serif CJK SC",
    "Times New Roman": "Liberation Serif",
}


def soffice() -> str:
    """The LibreOffice executable, or Unavailable saying how to install it."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise Unavailable("error.render_no_libreoffice", script=str(INSTALL_SCRIPT))


@functools.cache
def missing_fonts() -> tuple[str, ...]:
    """The standard font names fontconfig (with fonts.conf) does not map as FONT_MAP says."""
    if not shutil.which("fc-match"):
        return tuple(FONT_MAP)
    env = dict(os.environ, FONTCONFIG_FILE=str(FONTS_CONF))
    missing = []
    for name, family in FONT_MAP.items():
        out = subprocess.run(["fc-match", "-f", "%{family}", name], capture_output=True, text=True, env=env,
                             timeout=30).stdout
        if family not in out.split(","):
            missing.append(f"{name}→{family}")
    return tuple(missing)


def environment(profile: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAL_", "OOO_"))}
    env["FONTCONFIG_FILE"] = str(FONTS_CONF)
    env["HOME"] = str(profile)  # fontconfig's per-user cache and anything else LibreOffice writes
    env.setdefault("LANG", "C.UTF-8")
    return env


def docx_to_pdf(docx: bytes, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Convert a Word file's bytes to PDF bytes."""
    exe = soffice()
    if missing_fonts():
        raise Unavailable("error.render_no_libreoffice", script=str(INSTALL_SCRIPT))
    with tempfile.TemporaryDirectory(prefix="changtong-render-") as tmp:
        work = Path(tmp)
        src = work / "document.docx"
        src.write_bytes(docx)
        profile = work / "profile"
        profile.mkdir()
        cmd = [exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore", "--nologo",
               "--nodefault", "--nolockcheck", "--convert-to", "pdf:writer_pdf_Export", "--outdir", str(work),
               str(src)]
        # its own session: on a timeout the whole group goes (the soffice script, oosplash
        # and soffice.bin), not only the script
        proc = subprocess.Popen(cmd, cwd=work, env=environment(profile), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise Unavailable("error.render_timeout", seconds=int(timeout)) from None
        out = work / "document.pdf"
        if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            detail = (stderr or stdout).decode("utf-8", "replace").strip()[-500:]
            raise BadRequest("error.render_failed", detail=detail or f"exit status {proc.returncode}")
        return out.read_bytes()


def page_count(pdf: bytes) -> int:
    """The page count of a PDF LibreOffice wrote (its page tree's /Count); 0 if unread."""
    m = re.search(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)
    return int(m[1]) if m else 0


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
