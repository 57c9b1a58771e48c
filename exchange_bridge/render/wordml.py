"""WordprocessingML pieces python-docx does not offer, for the red-header layout: runs
with the standard Chinese font names, paragraphs of exact line pitch, borders, frames,
fields, table borders, and schema-ordered property elements. Pure: builds elements.
"""

from __future__ import annotations

from typing import Final

from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph as WordParagraph

from . import geometry as g

# The font names of GB/T 9704 practice, as installed on government PCs.
XIAOBIAOSONG: Final = "方正小标宋简体"
FANGSONG: Final = "仿宋_GB2312"
HEITI: Final = "黑体"
KAITI: Final = "楷体_GB2312"
SONGTI: Final = "宋体"
LATIN: Final = "Times New Roman"
FONTS: Final = (XIAOBIAOSONG, FANGSONG, HEITI, KAITI, SONGTI, LATIN)

RED: Final = RGBColor(0xFF, 0x00, 0x00)
RED_HEX: Final = "FF0000"


def set_fonts(rpr, name: str) -> None:
    """Chinese in `name`; Latin letters and digits in Times New Roman beside the body
    faces (as government templates set them: half-width digits, the same in Word and in
    the PDF, where Liberation Serif stands in with the same widths), else in `name`."""
    fonts = child(rpr, "w:rFonts")
    latin = LATIN if name in (FANGSONG, KAITI, HEITI) else name
    for attr, value in (("w:ascii", latin), ("w:hAnsi", latin), ("w:eastAsia", name), ("w:cs", latin)):
        fonts.set(qn(attr), value)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)


def run(par: WordParagraph, text: str, font: str, size: float, *, color: RGBColor | None = None,
         scale: int = 100, bold: bool = False):
    run = par.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    rpr = run._r.get_or_add_rPr()
    set_fonts(rpr, font)
    if scale != 100:
        child(rpr, "w:w").set(qn("w:val"), str(scale))
    return run


# Child order of w:pPr and w:rPr in the WordprocessingML schema (Word rejects others).
PPR_SEQ: Final = tuple(f"w:{t}" for t in (
    "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers pBdr shd tabs "
    "suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
    "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection textAlignment "
    "textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange").split())
RPR_SEQ: Final = tuple(f"w:{t}" for t in (
    "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint noProof snapToGrid "
    "vanish webHidden color spacing w kern position sz szCs highlight u effect bdr shd fitText vertAlign rtl cs "
    "em lang eastAsianLayout specVanish oMath").split())


def child(parent, tag: str):
    """`parent`'s (a w:pPr or w:rPr) child `tag`, added in schema order."""
    el = parent.find(qn(tag))
    if el is None:
        seq = PPR_SEQ if parent.tag == qn("w:pPr") else RPR_SEQ
        el = OxmlElement(tag)
        parent.insert_element_before(el, *seq[seq.index(tag) + 1:])
    return el


def ppr_child(par: WordParagraph, tag: str):
    return child(par._p.get_or_add_pPr(), tag)


def border(par: WordParagraph, side: str, sz: int, color: str = "000000", space: int = 0,
            style: str = "single") -> None:
    pbdr = ppr_child(par, "w:pBdr")
    el = OxmlElement(f"w:{side}")
    el.set(qn("w:val"), style)
    el.set(qn("w:sz"), str(sz))
    el.set(qn("w:space"), str(space))
    el.set(qn("w:color"), color)
    # CT_PBdr order: top, left, bottom, right, between, bar
    order = ["top", "left", "bottom", "right", "between", "bar"]
    for i, child in enumerate(pbdr):
        if order.index(child.tag.split("}")[1]) > order.index(side):
            pbdr.insert(i, el)
            return
    pbdr.append(el)


def no_grid(par: WordParagraph) -> None:
    """Lay this paragraph out by its own line spacing, not the document grid."""
    ppr_child(par, "w:snapToGrid").set(qn("w:val"), "0")


def para(container, text: str = "", *, font: str = FANGSONG, size: float = g.SIZE_3,
          align: WD_ALIGN_PARAGRAPH | None = WD_ALIGN_PARAGRAPH.JUSTIFY, line: float = g.LINE_PITCH_PT,
          before: float = 0.0, first: float = 0.0, left: float = 0.0, right: float = 0.0,
          color: RGBColor | None = None, grid: bool = True) -> WordParagraph:
    """One paragraph: exact line spacing `line` pt, `before` pt above, indents in pt."""
    par = container.add_paragraph()
    fmt = par.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(line)
    fmt.space_before = Pt(before)
    fmt.space_after = Pt(0)
    if align is not None:
        fmt.alignment = align
    if first:
        fmt.first_line_indent = Pt(first)
    if left:
        fmt.left_indent = Pt(left)
    if right:
        fmt.right_indent = Pt(right)
    fmt.widow_control = False
    if not grid:
        no_grid(par)
    if text:
        run(par, text, font, size, color=color)
    return par


def field(par: WordParagraph, instr: str, shown: str, font: str, size: float) -> None:
    """A complex field (PAGE) with its last shown value."""
    def char(kind: str):
        r = run(par, "", font, size)
        fc = OxmlElement("w:fldChar")
        fc.set(qn("w:fldCharType"), kind)
        r._r.append(fc)

    char("begin")
    r = run(par, "", font, size)
    it = OxmlElement("w:instrText")
    it.set(qn("xml:space"), "preserve")
    it.text = f" {instr} "
    r._r.append(it)
    char("separate")
    run(par, shown, font, size)
    char("end")


def frame(par: WordParagraph, y_tw: int | None, *, width_tw: int = g.TYPE_WIDTH_TW, anchor: str = "margin") -> None:
    """Put the paragraph in a frame `width_tw` wide, centred on the type area: its top
    `y_tw` twips below the `anchor`'s top (the type area, "margin", or the "page"), or
    (None) at the type area's foot."""
    fp = ppr_child(par, "w:framePr")
    fp.set(qn("w:w"), str(width_tw))
    fp.set(qn("w:hSpace"), "0")
    fp.set(qn("w:wrap"), "around")
    fp.set(qn("w:vAnchor"), anchor)
    fp.set(qn("w:hAnchor"), "margin")
    fp.set(qn("w:xAlign"), "center")
    if y_tw is None:
        fp.set(qn("w:yAlign"), "bottom")
    else:
        fp.set(qn("w:y"), str(y_tw))


def table_borders(table) -> None:
    """Single 0.5 pt black borders round and inside every cell (w:tblBorders, placed in
    w:tblPr's schema order)."""
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), "4")
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000")
        borders.append(el)
    tblpr.insert_element_before(borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption",
                                "w:tblDescription", "w:tblPrChange")
