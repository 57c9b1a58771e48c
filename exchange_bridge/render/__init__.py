"""Red-header (套头) printing: a document model laid out per GB/T 9704-2012.

    render_docx(doc) -> bytes    the Word file, naming the standard fonts
    render_pdf(doc)  -> bytes    that file through LibreOffice, with free fonts mapped in

See docs/rendering.md for the layout, the fonts and their mapping. The modules load on
first use, so `changtong` starts without python-docx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import Document

__all__ = ["FONTS", "build", "docx_to_pdf", "render_docx", "render_pdf"]


def render_pdf(doc: Document, *, timeout: float = 120.0) -> bytes:
    """The red-header PDF's bytes (LibreOffice must be installed: render/install.sh).

    The 版记 belongs on the back of the last sheet (7.4: 封四, an even page): when the
    laid-out document ends on an odd page, it is laid out again with the 版记 on a page
    of its own."""
    from .pdf import docx_to_pdf, page_count
    from .redhead import has_record, render_docx

    pdf = docx_to_pdf(render_docx(doc), timeout=timeout)
    if doc.kind != "函" and has_record(doc) and page_count(pdf) % 2 == 1:
        pdf = docx_to_pdf(render_docx(doc, record_on_new_page=True), timeout=timeout)
    return pdf


def __getattr__(name: str) -> Any:
    if name in ("build", "render_docx"):
        from . import redhead

        return getattr(redhead, name)
    if name == "FONTS":
        from .wordml import FONTS

        return FONTS
    if name == "docx_to_pdf":
        from .pdf import docx_to_pdf

        return docx_to_pdf
    raise AttributeError(name)
