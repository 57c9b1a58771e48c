"""The red-header (套头/红头) Word file: a Document laid out per GB/T 9704-2012.

`build(doc)` returns a python-docx Document; `render_docx(doc)` its bytes. Nothing here
reads or writes files. The layout, by the standard's clauses:

- 4.2: A4; margins 37/35/28/26 mm; a document grid of 22 lines × 28 characters.
- 7.2 版头: 份号, 密级, 紧急程度 on lines 1-3 at the left (黑体 for the last two); the red
  issuer mark (方正小标宋简体) 35 mm below the type area's top; two lines below it the
  发文字号, centred (downward) or one character from the left with 签发人 one character
  from the right on the same line (upward); a red rule the type area's width 4 mm below.
- 7.3 主体: the 2号 小标宋 title two lines below the rule; 主送 one line below; 3号 仿宋 body
  with 黑体 一、 and 楷体 （一） headings; 附件说明; 署名 centred over the 成文日期, which
  stands four characters from the right; 附注.
- 7.4 版记: 抄送 and 印发机关/印发日期 in 4号 仿宋 between rules (thick first and last,
  thin between), at the foot of the last page.
- 7.5: page numbers "— 1 —" in 4号 宋体, odd pages one character from the right, even
  pages one from the left, 7 mm below the type area.

The fonts are named as government PCs have them (wordml.FONTS); the PDF path maps the
names to free fonts (fonts.conf). WordprocessingML details are in wordml.py.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

from docx import Document as new_document
from docx.document import Document as WordDocument
from docx.enum.section import WD_SECTION_START
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, Twips

from ..model import UP, Document, Paragraph, Table
from . import geometry as g
from . import wordml as w

__all__ = ["build", "render_docx"]


PITCH: Final = g.LINE_PITCH_PT  # one line (行), 28.95 pt
CHAR: Final = g.CHAR_PITCH_PT  # one character (字) of 3号 on the grid
CHAR_4: Final = g.SIZE_4  # one character of 4号 (版记)

# Rules: the red separator, and the 版记's thick (0.35 mm) and thin (0.25 mm) rules, in
# eighths of a point (w:sz).
RED_RULE_SZ: Final = 12  # 1.5 pt
THICK_SZ: Final = 8  # 1 pt ≈ 0.35 mm
THIN_SZ: Final = 6  # 0.75 pt ≈ 0.25 mm

# Calibrated by measuring the rendered page (tests/exchange/test_render.py):
# the mark's glyph tops sit this far below its line's top (in ems of the mark's size);
_MARK_INK_OFFSET_EM: Final = 0.057
# the number's glyphs end this far above its line's bottom, where the rule's space starts;
_NUMBER_DESCENT_PT: Final = 3.3
# the page number's dashes sit this far above the footer's bottom edge.
_DASH_ABOVE_FOOTER_MM: Final = 3.1
# 信函格式: the mark's glyphs end this far above its line's bottom; the first line under
# the double line starts here (mm from the page's top: the line + 7/8 of a 3号 character).
_LETTER_MARK_DESCENT_PT: Final = 8.3
_LETTER_FIRST_LINE_MM: Final = 48.2



# ------------------------------------------------------------------ the page

def _page_setup(word: WordDocument) -> None:
    sec = word.sections[0]
    sec.start_type = WD_SECTION_START.NEW_PAGE
    sec.page_width, sec.page_height = Mm(g.PAGE_WIDTH_MM), Mm(g.PAGE_HEIGHT_MM)
    sec.top_margin, sec.bottom_margin = Twips(g.mm_to_twips(g.TOP_MM)), Twips(g.mm_to_twips(g.BOTTOM_MM))
    sec.left_margin, sec.right_margin = Twips(g.mm_to_twips(g.LEFT_MM)), Twips(g.mm_to_twips(g.RIGHT_MM))
    sec.gutter = Twips(0)
    sec.header_distance = Mm(15)
    # The footer's text bottom, so the page number's dashes sit 7 mm below the type area.
    sec.footer_distance = Twips(g.mm_to_twips(g.BOTTOM_MM - g.PAGE_NUMBER_BELOW_MM - _DASH_ABOVE_FOOTER_MM))
    grid = sec._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sec._sectPr.append(grid)
    # Lines only: 28 characters a line come from condensing each character by
    # CONDENSE_TW (see _defaults), which Word and LibreOffice lay out alike; a character
    # grid narrower than the font makes LibreOffice give each character two cells.
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(g.LINE_PITCH_TW))
    word.settings.odd_and_even_pages_header_footer = True


def _defaults(word: WordDocument) -> None:
    """Document defaults: 3号 仿宋_GB2312, Chinese, exact lines of the grid, no spacing."""
    styles = word.styles.element
    rpr = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    w.set_fonts(rpr, w.FANGSONG)
    rpr.find(qn("w:sz")).set(qn("w:val"), str(int(g.SIZE_3 * 2)))
    rpr.find(qn("w:szCs")).set(qn("w:val"), str(int(g.SIZE_3 * 2)))
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    spacing = styles.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), str(g.LINE_PITCH_TW))
    spacing.set(qn("w:lineRule"), "exact")
    normal = word.styles["Normal"]
    normal.font.size = Pt(g.SIZE_3)
    w.set_fonts(normal.element.get_or_add_rPr(), w.FANGSONG)
    w.child(normal.element.get_or_add_rPr(), "w:spacing").set(qn("w:val"), str(g.CONDENSE_TW))


def _page_numbers(word: WordDocument) -> None:
    """— N — in 4号 宋体: odd pages one character from the right, even from the left."""
    sec = word.sections[0]
    for footer, align, side in ((sec.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
                                (sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left")):
        footer.is_linked_to_previous = False
        par = footer.paragraphs[0]
        fmt = par.paragraph_format
        fmt.alignment = align
        fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
        fmt.space_before = fmt.space_after = Pt(0)
        if side == "right":
            fmt.right_indent = Pt(CHAR_4)
        else:
            fmt.left_indent = Pt(CHAR_4)
        w.no_grid(par)
        w.run(par, "— ", w.SONGTI, g.SIZE_4)
        w.field(par, "PAGE", "1" if side == "right" else "2", w.SONGTI, g.SIZE_4)
        w.run(par, " —", w.SONGTI, g.SIZE_4)


# ------------------------------------------------------------------ 版头

def _head(word: WordDocument, doc: Document) -> None:
    marks: list[tuple[str, str]] = []
    if doc.copy_no:
        marks.append((doc.copy_no, w.FANGSONG))
    if doc.secrecy:
        marks.append((doc.secrecy, w.HEITI))
    if doc.urgency:
        marks.append((doc.urgency, w.HEITI))
    for text, font in marks:
        w.para(word, text, font=font, align=WD_ALIGN_PARAGRAPH.LEFT, grid=False)
    used = len(marks) * PITCH

    # 发文机关标志: top edge 35 mm below the type area's top.
    mark = doc.issuer or ""
    size, scale = g.fit_mark(mark, g.TYPE_WIDTH_TW / 20) if mark else (g.SIZE_CHU, 100)
    before = max(0.0, g.mm_to_pt(g.MARK_TOP_MM) - used - _MARK_INK_OFFSET_EM * size)
    par = w.para(word, align=WD_ALIGN_PARAGRAPH.CENTER, line=size * 1.15, before=before, grid=False)
    if mark:
        w.run(par, mark, w.XIAOBIAOSONG, size, color=w.RED, scale=scale)

    # 发文字号 (and 签发人) two lines below the mark; the red rule 4 mm below them.
    number = doc.number.text if doc.number else ""
    upward = bool(doc.signer) and (doc.direction == UP or doc.direction is None)
    rule_space = round(g.mm_to_pt(g.RULE_BELOW_NUMBER_MM) - _NUMBER_DESCENT_PT)
    if upward:
        lines = _signer_lines(doc.signer)
        right_tab = g.TYPE_WIDTH_TW / 20 - CHAR
        for i, names in enumerate(lines):
            last = i == len(lines) - 1
            # one character in by a first-line indent: a left indent would shorten the rule
            par = w.para(word, align=WD_ALIGN_PARAGRAPH.LEFT, first=CHAR, before=2 * PITCH if i == 0 else 0,
                        grid=False)
            par.paragraph_format.tab_stops.add_tab_stop(Pt(right_tab), WD_TAB_ALIGNMENT.RIGHT)
            if last and number:
                w.run(par, number, w.FANGSONG, g.SIZE_3)
            par.add_run("\t")
            w.run(par, "签发人：" if i == 0 else "", w.FANGSONG, g.SIZE_3)
            w.run(par, "　".join(names), w.KAITI, g.SIZE_3)
        w.border(par, "bottom", RED_RULE_SZ, w.RED_HEX, space=rule_space)
    else:
        par = w.para(word, number, align=WD_ALIGN_PARAGRAPH.CENTER, before=2 * PITCH, grid=False)
        w.border(par, "bottom", RED_RULE_SZ, w.RED_HEX, space=rule_space)


# ------------------------------------------------------------------ 信函格式 (10.1)

LETTER_MARK_TOP_MM: Final = 30.0  # from the page's top edge
LETTER_RULE_MM: Final = 170.0  # the red double lines' length
LETTER_FOOT_RULE_MM: Final = 20.0  # the lower double line, from the page's bottom edge
LETTER_MARK_SIZE: Final = 36.0  # 小初
DOUBLE_SZ: Final = 18  # the double lines: 2.25 pt in all


def _letter_head(word: WordDocument, doc: Document) -> None:
    """A letter (函): the red mark 30 mm below the page's top, a red double line (thick
    over thin) 4 mm under it and another (thin over thick) 20 mm above the page's foot,
    both 170 mm; 份号/密级/紧急程度 flush left and the 发文字号 flush right on the first line
    under the upper line; no page number on the first page."""
    sec = word.sections[0]
    sec.different_first_page_header_footer = True  # the first page has no page number
    rule_tw = g.mm_to_twips(LETTER_RULE_MM)
    size, scale = g.fit_mark(doc.issuer or "", g.TYPE_WIDTH_TW / 20, LETTER_MARK_SIZE) if doc.issuer \
        else (LETTER_MARK_SIZE, 100)
    mark = w.para(word, align=WD_ALIGN_PARAGRAPH.CENTER, line=size * 1.15, grid=False)
    if doc.issuer:
        w.run(mark, doc.issuer, w.XIAOBIAOSONG, size, color=w.RED, scale=scale)
    w.border(mark, "bottom", DOUBLE_SZ, w.RED_HEX, space=round(g.mm_to_pt(4) - _LETTER_MARK_DESCENT_PT),
            style="thickThinSmallGap")
    w.frame(mark, g.mm_to_twips(LETTER_MARK_TOP_MM) - g.pt_to_twips(_MARK_INK_OFFSET_EM * size), width_tw=rule_tw,
           anchor="page")
    foot = w.para(word, line=1, grid=False)
    w.border(foot, "top", DOUBLE_SZ, w.RED_HEX, style="thickThinSmallGap")
    w.frame(foot, g.mm_to_twips(g.PAGE_HEIGHT_MM - LETTER_FOOT_RULE_MM), width_tw=rule_tw, anchor="page")

    marks = [m for m in (doc.copy_no, doc.secrecy, doc.urgency) if m]
    number = doc.number.text if doc.number else ""
    lines = max(1, len(marks))
    for i in range(lines):
        text = marks[i] if i < len(marks) else ""
        font = w.FANGSONG if text == doc.copy_no else w.HEITI
        before = g.mm_to_pt(_LETTER_FIRST_LINE_MM - g.TOP_MM) if i == 0 else 0.0
        par = w.para(word, align=WD_ALIGN_PARAGRAPH.LEFT, before=before, grid=False)
        if text:
            w.run(par, text, font, g.SIZE_3)
        if i == 0 and number:
            par.paragraph_format.tab_stops.add_tab_stop(Pt(g.TYPE_WIDTH_TW / 20), WD_TAB_ALIGNMENT.RIGHT)
            par.add_run("\t")
            w.run(par, number, w.FANGSONG, g.SIZE_3)


def _signer_lines(signers: Sequence[str]) -> list[list[str]]:
    """Two names a line (7.2.6), the last line carrying the 发文字号."""
    return [list(signers[i:i + 2]) for i in range(0, len(signers), 2)]


# ------------------------------------------------------------------ 主体

_HEADING_FONTS: Final = {1: w.HEITI, 2: w.KAITI}


def _body_paragraph(word: WordDocument, block: Paragraph) -> None:
    par = w.para(word, first=2 * CHAR)
    font = _HEADING_FONTS.get(block.level)
    if font is None:
        w.run(par, block.text, w.FANGSONG, g.SIZE_3)
        return
    # A heading run in on its paragraph ("一、总体要求。各单位要……"): only the heading
    # sentence takes the heading face.
    head, stop, rest = block.text.partition("。")
    if stop and rest:
        w.run(par, head + stop, font, g.SIZE_3)
        w.run(par, rest, w.FANGSONG, g.SIZE_3)
    else:
        w.run(par, block.text, font, g.SIZE_3)
        par.paragraph_format.keep_with_next = True  # a heading line never ends a page


_KEEP_TABLE_ROWS: Final = 12  # tables up to this many rows are kept on one page


def _body_table(word: WordDocument, block: Table) -> None:
    cols = max((len(r) for r in block.rows), default=0)
    if not cols:
        return
    table = word.add_table(rows=len(block.rows), cols=cols)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    w.table_borders(table)
    for r, row in enumerate(block.rows):
        trpr = table.rows[r]._tr.get_or_add_trPr()
        trpr.append(OxmlElement("w:cantSplit"))
        if r == 0 and len(block.rows) > 1:
            trpr.append(OxmlElement("w:tblHeader"))  # the first row repeats on each page
        for c in range(cols):
            cell = table.cell(r, c)
            par = cell.paragraphs[0]
            fmt = par.paragraph_format
            fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            fmt.line_spacing = Pt(g.SIZE_4 * 1.5)
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
            # a short table stays on one page: each row keeps with the next
            fmt.keep_with_next = len(block.rows) <= _KEEP_TABLE_ROWS and r < len(block.rows) - 1
            w.no_grid(par)
            text = row[c] if c < len(row) else ""
            if text:
                w.run(par, text, w.FANGSONG, g.SIZE_4, bold=False)


def _main(word: WordDocument, doc: Document) -> None:
    # Title: 2号 小标宋, two lines below the red rule, centred.
    if doc.title:
        par = w.para(word, align=WD_ALIGN_PARAGRAPH.CENTER, before=2 * PITCH, grid=False)
        capacity = g.TYPE_WIDTH_TW / 20 / (g.SIZE_2 + g.CONDENSE_TW / 20)
        for i, line in enumerate(g.title_lines(doc.title, capacity)):
            run = w.run(par, line, w.XIAOBIAOSONG, g.SIZE_2)
            if i:
                run._r.insert(run._r.index(run._r.find(qn("w:t"))), OxmlElement("w:br"))
    # 主送: one line below the title, flush left, ending with a full-width colon.
    if doc.to:
        w.para(word)
        w.para(word, "，".join(doc.to) + "：")
    for block in doc.body:
        if isinstance(block, Table):
            _body_table(word, block)
        else:
            _body_paragraph(word, block)
    # No page with the signature alone (7.3.5.5): the body's last paragraph, the 附件说明
    # and the 署名 keep with the 成文日期.
    keep_from = len(word.paragraphs) - (1 if doc.body and isinstance(doc.body[-1], Paragraph) else 0)
    _attachments(word, doc)
    _signature(word, doc)
    if doc.date:
        for par in word.paragraphs[keep_from:-1]:
            par.paragraph_format.keep_with_next = True
    if doc.note:
        note = doc.note if doc.note.startswith(("（", "(")) else f"（{doc.note}）"
        w.para(word, note, first=2 * CHAR)


def _attachments(word: WordDocument, doc: Document) -> None:
    """附件说明: a line below the body, 2 characters in; several are numbered 1． 2．,
    the later ones aligned under the first number."""
    if not doc.attachments:
        return
    w.para(word)
    names = [a.name for a in doc.attachments]
    if len(names) == 1:
        w.para(word, f"附件：{names[0]}", left=5 * CHAR, first=-3 * CHAR)
        return
    for i, name in enumerate(names, 1):
        if i == 1:
            w.para(word, f"附件：{i}．{name}", left=5 * CHAR + CHAR, first=-4 * CHAR)
        else:
            w.para(word, f"{i}．{name}", left=5 * CHAR + CHAR, first=-CHAR)


def _signature(word: WordDocument, doc: Document) -> None:
    """署名 centred over 成文日期; the date four characters from the right (7.3.5.1), with
    room above for the seal."""
    if not doc.signed_by and not doc.date:
        return
    date = doc.date.text if doc.date else ""
    date_em = g.text_width_em(date)
    w.para(word)
    w.para(word)
    for name in doc.signed_by:
        # centred on the date's centre (a name wider than the date reaches further right)
        right = max(0.0, 4 * CHAR + (date_em - g.text_width_em(name)) / 2 * CHAR) if date else 2 * CHAR
        w.para(word, name, align=WD_ALIGN_PARAGRAPH.RIGHT, right=right)
    if date:
        w.para(word, date, align=WD_ALIGN_PARAGRAPH.RIGHT, right=4 * CHAR)


# ------------------------------------------------------------------ 版记

def _cc_lines(text: str) -> int:
    """How many lines the 抄送 paragraph takes: one character in from each side, later
    lines aligned after 抄送：."""
    pitch = g.SIZE_4 + g.CONDENSE_TW / 20
    width = g.TYPE_WIDTH_TW / 20
    first = int((width - 2 * CHAR_4) // pitch)
    later = int((width - 5 * CHAR_4) // pitch)
    em = g.text_width_em(text)
    return 1 if em <= first else 1 + -(-int(em - first) // later)


def _record(word: WordDocument, doc: Document, rules: bool = True, new_page: bool = False) -> None:
    """版记 at the foot of the last page: 抄送, then 印发机关 and 印发日期, 4号 仿宋, each
    under a rule (thick first and last, thin between). Each line is a frame of its own,
    stacked up from the foot: LibreOffice turns a frame's paragraph borders into the
    frame's and gives up on frames whose paragraphs differ in borders."""
    if not has_record(doc):
        return
    if new_page:  # 版记 on the back of the last sheet (封四): see render_pdf
        w.para(word, line=1, grid=False).paragraph_format.page_break_before = True
    rows: list[tuple[str, int]] = []  # kind, lines
    if doc.cc:
        cc = "抄送：" + "，".join(doc.cc) + "。"
        rows.append(("cc", _cc_lines(cc)))
    if doc.printed_by or doc.printed_date:
        rows.append(("print", 1))
    rule = {True: THICK_SZ, False: THIN_SZ}
    heights = [lines * PITCH + (rule[True] / 8 if i == 0 else 0) + rule[i == len(rows) - 1] / 8
               for i, (_, lines) in enumerate(rows)]
    for i, (kind, lines) in enumerate(rows):
        if kind == "cc":
            par = w.para(word, cc, size=g.SIZE_4, left=CHAR_4 + 3 * CHAR_4, first=-3 * CHAR_4, right=CHAR_4,
                        grid=False)
        else:
            par = w.para(word, size=g.SIZE_4, align=WD_ALIGN_PARAGRAPH.LEFT, left=CHAR_4, right=CHAR_4, grid=False)
            par.paragraph_format.tab_stops.add_tab_stop(Pt(g.TYPE_WIDTH_TW / 20 - CHAR_4), WD_TAB_ALIGNMENT.RIGHT)
            if doc.printed_by:
                w.run(par, doc.printed_by, w.FANGSONG, g.SIZE_4)
            if doc.printed_date:
                par.add_run("\t")
                w.run(par, doc.printed_date.text + "印发", w.FANGSONG, g.SIZE_4)
        if rules and i == 0:
            w.border(par, "top", THICK_SZ)
        if rules:
            w.border(par, "bottom", rule[i == len(rows) - 1])
        last = i == len(rows) - 1
        below = sum(heights[i:])
        w.frame(par, None if last else g.TYPE_HEIGHT_TW - g.pt_to_twips(below))
    # A frame needs a paragraph after it to anchor to (LibreOffice drops the frame of a
    # document's last paragraph): a hairline one, so it never adds a page.
    w.para(word, line=1, grid=False)


# ------------------------------------------------------------------ the document

def has_record(doc: Document) -> bool:
    """Whether `doc` has a 版记 (抄送, 印发机关, 印发日期)."""
    return bool(doc.cc or doc.printed_by or doc.printed_date)


def build(doc: Document, *, record_on_new_page: bool = False) -> WordDocument:
    """The red-header Word document for `doc`; `record_on_new_page` starts a page for the
    版记 (when the body ends on an odd page, so the 版记 falls on an even one, 封四)."""
    word = new_document()
    _page_setup(word)
    _defaults(word)
    _page_numbers(word)
    body = word.element.body
    for p in list(body.iterchildren(qn("w:p"))):  # the template's empty first paragraph
        body.remove(p)
    letter = doc.kind == "函"
    if letter:
        _letter_head(word, doc)
    else:
        _head(word, doc)
    _main(word, doc)
    _record(word, doc, rules=not letter, new_page=record_on_new_page)
    props = word.core_properties
    props.title = doc.title or ""
    props.author = doc.signed_by[0] if doc.signed_by else (doc.issuer or "")
    props.subject = doc.number.text if doc.number else ""
    return word


def render_docx(doc: Document, *, record_on_new_page: bool = False) -> bytes:
    """The red-header Word file's bytes."""
    out = io.BytesIO()
    build(doc, record_on_new_page=record_on_new_page).save(out)
    return out.getvalue()
