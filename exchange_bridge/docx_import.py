"""Word (.docx) → Document: the I/O edge of the import.

`import_docx(path)` reads the file (bounded), lets `zip_guard` check the package, opens
it with python-docx, turns the body (paragraphs, tables, text boxes, content controls,
in document order) and the page headers into `field_reader.Line`s and `Grid`s, and
hands them to `field_reader.read_fields`, which is pure.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

import docx
from lxml import etree
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.table import Table as DocxTable

from hub.errors import BadRequest, TooLarge

from .field_reader import Grid, Line, read_fields
from .model import Document
from .source_file import read_bounded
from .zip_guard import ZipLimits, checked_package

__all__ = ["import_docx", "import_docx_bytes", "MAX_BLOCKS"]

MAX_BLOCKS = 10_000  # paragraphs and table cells: a long 公文 has a few hundred; 10,000 read in about a second
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_W = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
# Runs of a paragraph, also inside hyperlinks, insertions, smart tags, simple fields and custom XML.
_RUNS = etree.XPath("./w:r | ./w:hyperlink/w:r | ./w:ins/w:r | ./w:smartTag/w:r | ./w:fldSimple/w:r"
                    " | ./w:customXml/w:r", namespaces=_W)
_PSTYLE = etree.XPath("string(./w:pPr/w:pStyle/@w:val)", namespaces=_W)
_JC = etree.XPath("string(./w:pPr/w:jc/@w:val)", namespaces=_W)
_SIZE = etree.XPath("string(./w:rPr/w:sz/@w:val)", namespaces=_W)
_COLOR = etree.XPath("string(./w:rPr/w:color/@w:val)", namespaces=_W)
_W_T, _W_TAB, _W_BR, _W_CR, _W_NBH = (qn(t) for t in ("w:t", "w:tab", "w:br", "w:cr", "w:noBreakHyphen"))
_W_TYPE = qn("w:type")
_JC_ALIGN = {"left": "left", "start": "left", "center": "center", "right": "right", "end": "right",
             "both": "justify", "distribute": "justify"}
_ALIGN = {
    WD_ALIGN_PARAGRAPH.LEFT: "left",
    WD_ALIGN_PARAGRAPH.CENTER: "center",
    WD_ALIGN_PARAGRAPH.RIGHT: "right",
    WD_ALIGN_PARAGRAPH.JUSTIFY: "justify",
    WD_ALIGN_PARAGRAPH.DISTRIBUTE: "justify",
}


def import_docx(path: str | os.PathLike[str], limits: ZipLimits = ZipLimits()) -> Document:
    """Read a .docx file into a Document (fields not found are listed in `missing`)."""
    return import_docx_bytes(read_bounded(path, limits.max_file_bytes, "error.doc_not_docx"), limits)


def import_docx_bytes(data: bytes, limits: ZipLimits = ZipLimits()) -> Document:
    checked_package(data, limits)
    try:
        word = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors… on broken packages
        raise BadRequest("error.doc_not_docx", detail=f"{type(exc).__name__}: {exc}"[:200]) from None
    blocks = sum(1 for _ in word.element.body.iter(qn("w:p"), qn("w:tc")))
    if blocks > MAX_BLOCKS:
        raise TooLarge("error.doc_too_large", what="paragraphs", size=blocks, limit=MAX_BLOCKS)
    try:
        styles = _Styles(_paragraph_styles(word), _ruled_table_styles(word))
        items = list(_blocks(word.element.body, word, styles))
        header: list[Line] = []
        for section in word.sections:
            parts = [section.header] + ([section.first_page_header] if section.different_first_page_header_footer else [])
            for part in parts:
                for item in _blocks(part._element, part, styles):
                    header.extend(_layout_lines(item))
    except Exception as exc:  # a package python-docx opened but cannot walk (a styles part of the wrong type…)
        raise BadRequest("error.doc_not_docx", detail=f"{type(exc).__name__}: {exc}"[:200]) from None
    return read_fields(items, header)


@dataclass(frozen=True, slots=True)
class _Style:
    name: str
    align: Any
    size: float | None


@dataclass(frozen=True, slots=True)
class _Styles:
    """What the file's styles say, read once: paragraph styles by id (None: the default),
    and the table styles that draw borders."""

    paragraphs: dict[str | None, _Style]
    ruled_tables: frozenset[str]


def _paragraph_styles(word: Any) -> dict[str | None, _Style]:
    """Paragraph styles by id, read once (python-docx looks the default style up per
    paragraph by scanning every style); None maps to the default paragraph style."""
    styles: dict[str | None, _Style] = {}
    for style in word.styles:
        if style.type != WD_STYLE_TYPE.PARAGRAPH:
            continue
        entry = _Style(style.name or "", style.paragraph_format.alignment,
                       style.font.size.pt if style.font.size is not None else None)
        styles[style.style_id] = entry
        if style.element.get(qn("w:default")) in ("1", "true"):
            styles[None] = entry
    return styles


def _blocks(container: Any, parent: Any, styles: _Styles) -> Any:
    """Paragraphs (with any text boxes anchored in them first) and tables, in order."""
    for child in container.iterchildren():
        if child.tag == qn("w:p"):
            for box in child.iter(qn("w:txbxContent")):
                if not any(a.tag == _MC_FALLBACK for a in box.iterancestors()):
                    yield from _blocks(box, parent, styles)
            yield _line(child, styles.paragraphs)
        elif child.tag == qn("w:tbl"):
            table = DocxTable(child, parent)
            rows = []
            for row in table.rows:
                cells = []
                for cell in row.cells:
                    texts = (_paragraph_text(p).strip() for p in cell._tc.iterchildren(qn("w:p")))
                    cells.append("\n".join(t for t in texts if t))
                rows.append(tuple(_dedupe_merged(cells)))
            yield Grid(tuple(rows), ruled=_ruled(child, styles.ruled_tables))
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _blocks(content, parent, styles)


def _ruled_table_styles(word: Any) -> frozenset[str]:
    """The ids of the table styles that draw borders (Table Grid / 网格型 and the like)."""
    return frozenset(
        s.get(qn("w:styleId")) for s in word.styles.element.iterchildren(qn("w:style"))
        if s.get(qn("w:type")) == "table" and _draws(s.iter(qn("w:tblBorders")))
    )


def _ruled(tbl: Any, ruled_styles: frozenset[str]) -> bool:
    """Whether a table draws lines: borders of its own, of its cells, or of its table style."""
    if _draws(tbl.iter(qn("w:tblBorders"), qn("w:tcBorders"))):
        return True
    style = tbl.find(f"{qn('w:tblPr')}/{qn('w:tblStyle')}")
    return style is not None and style.get(qn("w:val")) in ruled_styles


def _draws(border_groups: Any) -> bool:
    return any(edge.get(qn("w:val")) not in (None, "nil", "none") for group in border_groups for edge in group)


def _dedupe_merged(cells: list[str]) -> list[str]:
    """python-docx repeats a horizontally merged cell once per grid column."""
    out: list[str] = []
    for c in cells:
        if not out or c != out[-1] or not c:
            out.append(c)
    return out


def _layout_lines(item: Line | Grid) -> list[Line]:
    if isinstance(item, Line):
        return [item]
    return [Line("\t".join(c for c in row if c)) for row in item.rows]


def _line(p: Any, styles: dict[str | None, _Style]) -> Line:
    """One w:p read straight from its XML (python-docx's Paragraph objects cost ~0.3 ms each)."""
    style = styles.get(_PSTYLE(p) or None) or styles.get(None)
    align = _JC_ALIGN.get(_JC(p))
    if align is None and style is not None and style.align is not None:
        align = _ALIGN.get(style.align)
    red, size = False, None
    texts = []
    for run in _RUNS(p):
        text = _run_text(run)
        texts.append(text)
        if not text.strip():
            continue
        if size is None and (half_points := _SIZE(run)):
            size = int(half_points) / 2 if half_points.isdigit() else None
        color = _COLOR(run)
        if len(color) == 6:
            try:
                r, g, b = int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)
            except ValueError:
                continue
            red = red or (r >= 0xB0 and g <= 0x60 and b <= 0x60)
    if size is None and style is not None:
        size = style.size
    return Line(text="".join(texts), align=align, style=style.name if style is not None else "", red=red, size=size)


def _paragraph_text(p: Any) -> str:
    return "".join(_run_text(run) for run in _RUNS(p))


def _run_text(run: Any) -> str:
    """A run's visible text as Word shows it: tabs and line breaks kept, deleted text left out."""
    parts = []
    for child in run:
        tag = child.tag
        if tag == _W_T:
            parts.append(child.text or "")
        elif tag == _W_TAB:
            parts.append("\t")
        elif tag == _W_BR:
            parts.append("\n" if child.get(_W_TYPE) in (None, "textWrapping") else "")
        elif tag == _W_CR:
            parts.append("\n")
        elif tag == _W_NBH:
            parts.append("-")
    return "".join(parts)
