"""Red-header printing (套头打印) per GB/T 9704-2012, checked on the page.

The Word file is read back as XML (the fonts a government PC will use, the page set-up);
the PDF is made by the real `changtong doc render` through Debian's LibreOffice, then
looked at: pdfinfo, pdffonts, pdftotext's boxes, and pages rasterised by pdftoppm and
measured in millimetres. Tolerances are the standard's (±1 mm for the margins) or say
why they are wider.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from doc_samples import SAMPLES, sample_names
from lxml import etree
from pdfpage import Page, page_sizes_pt, pdffonts, rasterise, text_lines

from exchange_bridge.docx_import import import_docx, import_docx_bytes
from exchange_bridge.model import Document
from exchange_bridge.render import render_docx
from exchange_bridge.render.pdf import INSTALL_SCRIPT, docx_to_pdf, missing_fonts
from exchange_bridge.xml_codec import dump_xml, load_xml
from hub.cli import main

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
CHAR_MM = 156 / 28  # one character (字) of the type area's grid
CHAR4_MM = 14 * 25.4 / 72  # one 4号 character
TOP, LEFT, RIGHT_EDGE, BOTTOM_EDGE = 37.0, 28.0, 184.0, 262.0  # the type area, mm from the top left

BODY_SENTENCE = "各县区各部门要充分认识冬季安全生产工作的重要性，严格落实属地管理责任和部门监管责任。"


def notice() -> Document:
    """A downward 通知 with every head and footer field, over several pages."""
    body = [{"type": "paragraph", "text": "为切实做好今冬明春安全生产工作，有效防范和遏制各类生产安全事故，经市政府同意，现就有关事项通知如下："}]
    for i, head in enumerate(("一、提高思想认识，压实工作责任", "二、突出重点领域，开展隐患排查", "三、加强应急值守，及时报送信息")):
        body.append({"type": "paragraph", "text": head, "level": 1})
        body.append({"type": "paragraph", "text": "（一）健全工作机制。建立联席会议制度，每月调度一次。", "level": 2})
        body += [{"type": "paragraph", "text": BODY_SENTENCE * 4}] * 3
    body.append({"type": "table", "rows": [["序号", "单位", "联系人"], ["1", "市应急局", "张三"], ["2", "市住建局", "李四"]]})
    return Document.from_json({
        "kind": "通知", "direction": "下行文", "copy_no": "000123", "secrecy": "秘密★1年", "urgency": "加急",
        "issuer": "东营市人民政府办公室文件", "number": "东政办发〔2026〕15号",
        "title": "东营市人民政府办公室关于做好2026年冬季安全生产工作的通知",
        "to": ["各县区人民政府", "市政府各部门", "市属各企业"], "body": body,
        "attachments": ["东营市冬季安全生产检查表", "重点企业联系人名单"],
        "signed_by": ["东营市人民政府办公室"], "date": "2026年11月20日", "note": "（此件公开发布）",
        "cc": ["市委各部门", "市人大常委会办公室", "市政协办公室"],
        "printed_by": "东营市人民政府办公室", "printed_date": "2026年11月20日",
    })


def request() -> Document:
    """An upward 请示 with 签发人 and 特急."""
    return Document.from_json({
        "kind": "请示", "direction": "上行文", "urgency": "特急", "issuer": "利津县人民政府文件",
        "number": "利政发〔2026〕8号", "signer": ["李建国"],
        "title": "利津县人民政府关于申请拨付防汛物资储备资金的请示", "to": ["东营市人民政府"],
        "body": [{"type": "paragraph", "text": "今年汛期我县降雨偏多，防汛物资消耗较大，现有储备已不能满足明年汛期需要。"},
                 {"type": "paragraph", "text": "妥否，请批示。"}],
        "attachments": ["利津县防汛物资储备需求清单"], "signed_by": ["利津县人民政府"], "date": "2026年11月18日",
        "note": "（联系人：王晓明，联系电话：0546-5621234）",
    })


# ---------------------------------------------------------------- the Word file

def _parts(data: bytes) -> dict[str, etree._Element]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: etree.fromstring(z.read(n)) for n in z.namelist() if n.startswith("word/") and n.endswith(".xml")}


def _runs(root: etree._Element) -> list[tuple[str, str, int, str | None]]:
    """(text, eastAsia font, size in half-points, colour) of every run with text."""
    out = []
    for r in root.iter(f"{W}r"):
        text = "".join(t.text or "" for t in r.iter(f"{W}t"))
        if not text:
            continue
        fonts, sz, color = r.find(f"{W}rPr/{W}rFonts"), r.find(f"{W}rPr/{W}sz"), r.find(f"{W}rPr/{W}color")
        out.append((text, fonts.get(f"{W}eastAsia"), int(sz.get(f"{W}val")),
                    None if color is None else color.get(f"{W}val")))
    return out


def test_the_word_file_sets_up_the_gbt9704_page_and_names_the_standard_fonts():
    parts = _parts(render_docx(notice()))
    doc = parts["word/document.xml"]
    sect = doc.find(f"{W}body/{W}sectPr")
    size, margins, grid = sect.find(f"{W}pgSz"), sect.find(f"{W}pgMar"), sect.find(f"{W}docGrid")
    twips = lambda mm: round(mm / 25.4 * 1440)  # noqa: E731
    assert (int(size.get(f"{W}w")), int(size.get(f"{W}h"))) == (twips(210), twips(297))  # A4
    assert {k: int(margins.get(f"{W}{k}")) for k in ("top", "bottom", "left", "right")} == {
        "top": twips(37), "bottom": twips(35), "left": twips(28), "right": twips(26)}
    assert int(grid.get(f"{W}linePitch")) * 22 <= twips(225) < (int(grid.get(f"{W}linePitch")) + 1) * 22
    assert parts["word/settings.xml"].find(f"{W}evenAndOddHeaders") is not None

    runs = _runs(doc)
    fonts = {font for _, font, _, _ in runs}
    assert fonts == {"方正小标宋简体", "仿宋_GB2312", "黑体", "楷体_GB2312"}
    latin = {(f.get(f"{W}eastAsia"), f.get(f"{W}ascii")) for f in doc.iter(f"{W}rFonts")}
    assert latin == {("方正小标宋简体", "方正小标宋简体"), ("仿宋_GB2312", "Times New Roman"),
                     ("黑体", "Times New Roman"), ("楷体_GB2312", "Times New Roman")}
    by_text = {text: (font, sz, color) for text, font, sz, color in runs}
    assert by_text["东营市人民政府办公室文件"][0::2] == ("方正小标宋简体", "FF0000")  # the red issuer mark
    # 2号 小标宋, broken where the words allow (before 关于), not where the line is full
    title = [text for text, font, sz, _ in runs if (font, sz) == ("方正小标宋简体", 44)]
    assert title == ["东营市人民政府办公室", "关于做好2026年冬季安全生产工作的通知"]
    assert by_text["秘密★1年"][:2] == ("黑体", 32) and by_text["加急"][:2] == ("黑体", 32)
    assert by_text["一、提高思想认识，压实工作责任"][:2] == ("黑体", 32)
    assert by_text["（一）健全工作机制。"][:2] == ("楷体_GB2312", 32)  # the heading sentence only
    assert by_text["建立联席会议制度，每月调度一次。"][:2] == ("仿宋_GB2312", 32)
    assert by_text[BODY_SENTENCE * 4][:2] == ("仿宋_GB2312", 32)  # 3号 仿宋
    assert by_text["抄送：市委各部门，市人大常委会办公室，市政协办公室。"][:2] == ("仿宋_GB2312", 28)  # 4号

    # the red rule: a bottom border on the 发文字号's paragraph
    rules = [b for b in doc.iter(f"{W}bottom") if b.get(f"{W}color") == "FF0000"]
    assert len(rules) == 1
    # page numbers: — PAGE — in 宋体, odd pages right, even pages left
    footers = {n: r for n, r in parts.items() if n.startswith("word/footer")}
    aligns = sorted(r.find(f".//{W}jc").get(f"{W}val") for r in footers.values())
    assert aligns == ["left", "right"]
    for root in footers.values():
        assert " PAGE " in "".join(t.text or "" for t in root.iter(f"{W}instrText"))
        assert {font for _, font, _, _ in _runs(root)} == {"宋体"}


def test_an_upward_document_puts_the_number_and_signer_on_one_line():
    doc = _parts(render_docx(request()))["word/document.xml"]
    line = next(p for p in doc.iter(f"{W}p") if "利政发〔2026〕8号" in "".join(p.itertext()))
    runs = [(t, f) for t, f, _, _ in _runs(line)]
    assert runs == [("利政发〔2026〕8号", "仿宋_GB2312"), ("签发人：", "仿宋_GB2312"), ("李建国", "楷体_GB2312")]
    assert line.find(f".//{W}tab") is not None  # 签发人 at a right tab
    assert line.find(f".//{W}pBdr/{W}bottom").get(f"{W}color") == "FF0000"


def test_several_signers_two_a_line_with_the_number_on_the_last():
    doc = request().model_copy(update={"signer": ["李建国", "张伟", "王芳"]})
    root = _parts(render_docx(doc))["word/document.xml"]
    texts = ["".join(p.itertext()) for p in root.iter(f"{W}p")]
    assert "签发人：李建国　张伟" in texts
    assert "利政发〔2026〕8号王芳" in texts


# ---------------------------------------------------------------- round trip

@pytest.mark.parametrize("name", sample_names())
def test_word_to_model_to_xml_to_red_header_word_keeps_every_field(samples, name):
    first = import_docx(samples / f"{name}.docx")
    again = load_xml(dump_xml(first))
    assert again == first
    printed = import_docx_bytes(render_docx(again))
    assert printed.to_json() == first.to_json()


def test_the_test_documents_survive_the_red_header_round_trip():
    for doc in (notice(), request()):
        back = import_docx_bytes(render_docx(doc))
        for field in ("copy_no", "secrecy", "urgency", "issuer", "number", "signer", "title", "to", "attachments",
                      "signed_by", "date", "note", "cc", "printed_by", "printed_date"):
            assert getattr(back, field) == getattr(doc, field), field
        assert [(b.level, b.text) for b in back.body if b.type == "paragraph"] == \
               [(b.level, b.text) for b in doc.body if b.type == "paragraph"]


# ---------------------------------------------------------------- the PDF, measured

def _tools_or_skip() -> None:
    missing = [t for t in ("soffice", "pdftoppm", "pdfinfo", "pdffonts", "pdftotext") if not shutil.which(t)]
    if not missing and missing_fonts():
        missing = list(missing_fonts())
    if missing:
        message = f"red-header PDF rendering needs {', '.join(missing)}: run `bash {INSTALL_SCRIPT}` as root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, tuple[Path, list[Page]]]:
    """Each test document through `changtong doc render … --format pdf`, rasterised."""
    _tools_or_skip()
    out: dict[str, tuple[Path, list[Page]]] = {}
    for name, doc in (("notice", notice()), ("request", request()), ("letter", SAMPLES / "letter-parallel.docx")):
        work = tmp_path_factory.mktemp(name)
        if isinstance(doc, Path):
            src = doc  # a Word file straight in
        else:
            src = work / f"{name}.json"
            src.write_text(json.dumps(doc.to_json(), ensure_ascii=False), encoding="utf-8")
        pdf = work / f"{name}.pdf"
        assert main(["doc", "render", str(src), "--format", "pdf", "-o", str(pdf)]) == 0
        out[name] = (pdf, rasterise(pdf, work, dpi=100))
    artifacts = Path(__file__).resolve().parents[1] / "artifacts" / "render"
    artifacts.mkdir(parents=True, exist_ok=True)
    for name, (pdf, pages) in out.items():  # for a person to look at
        shutil.copy(pdf, artifacts / pdf.name)
        for i, page in enumerate(pages, 1):
            page.image.save(artifacts / f"{name}-{i}.png")
    return out


def near(value: float, want: float, tol: float = 1.0) -> bool:
    return abs(value - want) <= tol


@pytest.mark.slow
def test_pages_are_a4_and_use_the_mapped_fonts_embedded(rendered):
    for name, (pdf, pages) in rendered.items():
        sizes = page_sizes_pt(pdf)
        assert len(sizes) == len(pages) >= 1
        for w, h in sizes:
            assert near(w, 595.28) and near(h, 841.89), (w, h)
        fonts = pdffonts(pdf)
        assert all(f.embedded for f in fonts), fonts
        names = {f.name for f in fonts}
        if name == "notice":  # every face is used
            # Noto CJK's collection shares one CFF whose name is the JP face's: the SC face
            # is chosen by fontconfig (fonts.conf), the embedded name stays NotoSerifCJKjp.
            assert {"FandolFang-Regular", "FandolKai-Regular", "LiberationSerif"} <= names, names
            assert any(n.startswith("NotoSerifCJK") and "Bold" in n for n in names), names  # 小标宋
            assert any(n.startswith("NotoSansCJK") for n in names), names  # 黑体
        fallback = [n for n in names if not n.startswith(("Fandol", "NotoSerifCJK", "NotoSansCJK", "LiberationSerif"))]
        assert not fallback, f"fonts outside the mapping: {fallback}"


@pytest.mark.slow
def test_a_body_page_has_the_margins_and_22_lines_of_28_characters(rendered):
    pdf, pages = rendered["notice"]
    page = pages[1]  # page 2: running text only
    x0, y0, x1, y1 = page.ink((0, 0, 210, BOTTOM_EDGE + 3))
    assert near(x0, LEFT, 1.0), x0  # 订口 28 mm
    assert near(x1, RIGHT_EDGE, 1.0), x1  # justified lines fill the 156 mm type area
    # The first line's glyphs: the line starts at 37 mm; a 16 pt glyph sits in a 28.95 pt line.
    assert TOP <= y0 <= TOP + 4.6, y0
    assert y1 <= BOTTOM_EDGE, y1
    lines = [ln for ln in text_lines(pdf, 2) if ln.y1 < BOTTOM_EDGE + 2]
    assert len(lines) == 22, [ln.text for ln in lines]
    # on a grid of 28.95 pt (225/22 mm rounded down to whole twips so 22 lines fit);
    # a 黑体 heading's box sits 0.25 mm higher than 仿宋's
    pitch = 579 / 20 * 25.4 / 72
    drift = [ln.y0 - (lines[0].y0 + i * pitch) for i, ln in enumerate(lines)]
    assert all(abs(d) <= 0.35 for d in drift), [(round(d, 2), ln.text) for d, ln in zip(drift, lines)]
    full = [ln for ln in lines if near(ln.x1, RIGHT_EDGE, 1.0) and near(ln.x0, LEFT, 0.5)]
    assert full and all(len(ln.text) == 28 for ln in full), [(len(ln.text), ln.text) for ln in full]


@pytest.mark.slow
def test_the_downward_head_marks_mark_number_and_red_rule(rendered):
    pdf, pages = rendered["notice"]
    page = pages[0]
    lines = text_lines(pdf, 1)
    # 份号, 密级, 紧急程度 on lines 1-3, flush left
    head = [ln for ln in lines if ln.text in ("000123", "秘密★1年", "加急")]
    assert [ln.text for ln in head] == ["000123", "秘密★1年", "加急"]
    assert all(near(ln.x0, LEFT, 0.5) for ln in head)
    assert [round((ln.y0 - TOP) / (225 / 22)) for ln in head] == [0, 1, 2]
    # the red issuer mark: top edge 35 mm below the type area, centred
    mx0, my0, mx1, my1 = page.red_box((0, 0, 210, 100))
    assert near(my0, TOP + 35, 1.0), my0
    assert near((mx0 + mx1) / 2, 106, 1.0) and mx1 - mx0 <= 156
    # the red rule: the type area's width, 4 mm below the 发文字号
    [rule] = page.rules("red")
    assert near(rule[2], LEFT, 0.5) and near(rule[3], RIGHT_EDGE, 0.5), rule
    nx0, _, nx1, ny1 = page.black_box((LEFT, my1 + 5, RIGHT_EDGE, rule[0] - 0.3))
    assert near(rule[0] - ny1, 4.0, 0.7), rule[0] - ny1
    assert near((nx0 + nx1) / 2, 106, 1.0)  # a downward document's number is centred
    # the title two lines below the rule, centred, in two lines broken before 关于
    title = [ln for ln in lines if ln.y0 > rule[1] and ln.text in ("东营市人民政府办公室", "关于做好2026年冬季安全生产工作的通知")]
    assert [ln.text for ln in title] == ["东营市人民政府办公室", "关于做好2026年冬季安全生产工作的通知"]
    assert near(title[0].y0 - rule[1], 2 * 225 / 22, 2.0), title[0].y0 - rule[1]
    assert all(near((ln.x0 + ln.x1) / 2, 106, 1.0) for ln in title), title


@pytest.mark.slow
def test_the_upward_head_has_number_left_and_signer_right(rendered):
    pdf, pages = rendered["request"]
    page = pages[0]
    [rule] = page.rules("red")
    assert near(rule[2], LEFT, 0.5) and near(rule[3], RIGHT_EDGE, 0.5), rule
    number = [ln for ln in text_lines(pdf, 1) if ln.text == "利政发〔2026〕8号"][0]
    signer = [ln for ln in text_lines(pdf, 1) if ln.text == "签发人：李建国"][0]
    assert near(number.x0, LEFT + CHAR_MM, 1.0), number.x0  # one character in from the left
    assert near(signer.x1, RIGHT_EDGE - CHAR_MM, 1.0), signer.x1  # one character in from the right
    assert near(number.y1, signer.y1, 0.3)  # on the same line
    assert near(page.red_box((0, 0, 210, 100))[1], TOP + 35, 1.0)
    assert near(rule[0] - page.black_box((LEFT, 95, RIGHT_EDGE, rule[0] - 0.3))[3], 4.0, 0.7)
    urgent = [ln for ln in text_lines(pdf, 1) if ln.text == "特急"][0]
    assert near(urgent.x0, LEFT, 0.5) and urgent.y0 < TOP + 225 / 22


@pytest.mark.slow
def test_page_numbers_sit_7mm_below_the_type_area_at_the_outer_edges(rendered):
    pdf, pages = rendered["notice"]
    assert len(pages) >= 2
    for number, page in enumerate(pages, 1):
        fx0, fy0, fx1, fy1 = page.ink((0, BOTTOM_EDGE + 1, 210, 297))
        assert [ln.text for ln in text_lines(pdf, number) if ln.y0 > BOTTOM_EDGE] == [f"—{number}—"]
        if number % 2:
            assert near(fx1, RIGHT_EDGE - CHAR4_MM, 1.0), fx1  # odd: one 4号 character from the right
        else:
            assert near(fx0, LEFT + CHAR4_MM, 1.0), fx0  # even: one from the left
        dash = page.ink((fx0, BOTTOM_EDGE + 1, fx0 + 2.5, 297))  # the leading 一字线
        assert near(dash[1], BOTTOM_EDGE + 7, 1.0), dash


@pytest.mark.slow
def test_signature_date_and_the_record_at_the_foot_of_the_last_page(rendered):
    pdf, pages = rendered["notice"]
    # the body ended on page 5: the 版记 went to page 6, the back of the last sheet (封四)
    assert len(pages) % 2 == 0
    last = len(pages)
    lines = text_lines(pdf, last)
    body_end = next(n for n in range(last, 0, -1) if any(ln.text == "2026年11月20日" for ln in text_lines(pdf, n)))
    signed = text_lines(pdf, body_end)
    cells = {"序号", "单位", "联系人", "市应急局", "张三", "市住建局", "李四"}
    assert cells <= {ln.text for ln in signed}, "a short table is kept on one page"
    date = [ln for ln in signed if ln.text == "2026年11月20日"][0]
    name = [ln for ln in signed if ln.text == "东营市人民政府办公室" and ln.y1 < date.y0][0]
    assert near(date.x1, RIGHT_EDGE - 4 * CHAR_MM, 1.5), date.x1  # 成文日期 four characters from the right
    assert near((name.x0 + name.x1) / 2, (date.x0 + date.x1) / 2, 1.5)  # 署名 centred over it
    # 版记: three rules the type area's width, the last on the type area's bottom line
    rules = [r for r in pages[-1].rules("black", min_mm=150) if r[0] > 150]
    assert len(rules) == 3, rules
    assert near(rules[-1][1], BOTTOM_EDGE, 1.0), rules
    assert all(near(r[2], LEFT, 0.5) and near(r[3], RIGHT_EDGE, 0.5) for r in rules)
    cc = [ln for ln in lines if ln.text.startswith("抄送：")][0]
    assert rules[0][1] < cc.y0 < cc.y1 < rules[1][0]
    assert near(cc.x0, LEFT + CHAR4_MM, 0.7)  # one 4号 character in
    printed = [ln for ln in lines if ln.text.endswith("印发")][0]
    assert rules[1][1] < printed.y0 < printed.y1 < rules[2][0]
    assert near(printed.x1, RIGHT_EDGE - CHAR4_MM, 0.7)


@pytest.mark.slow
def test_a_letter_has_its_own_head_double_lines_and_no_first_page_number(rendered):
    pdf, pages = rendered["letter"]  # 函: GB/T 9704 10.1 信函格式
    page = pages[0]
    mx0, my0, mx1, my1 = page.red_box((0, 0, 210, 44))
    assert near(my0, 30, 1.0), my0  # the mark 30 mm below the page's top edge
    assert near((mx0 + mx1) / 2, 106, 1.0)
    rules = page.rules("red", min_mm=160)
    assert len(rules) == 4, rules  # two double lines
    assert all(near(r[2], 106 - 85, 0.5) and near(r[3], 106 + 85, 0.5) for r in rules), rules  # 170 mm, centred
    (top_thick, top_thin, foot_thin, foot_thick) = rules
    assert top_thick[1] - top_thick[0] > top_thin[1] - top_thin[0]  # thick over thin
    assert foot_thick[1] - foot_thick[0] > foot_thin[1] - foot_thin[0]  # thin over thick
    assert near(top_thick[0] - my1, 4.0, 0.7)  # 4 mm under the mark
    assert near(foot_thin[0], 297 - 20, 1.0)  # 20 mm above the page's foot
    # the 发文字号 flush right on the first line under the line, 7/8 of a 3号 character below it
    nx0, ny0, nx1, ny1 = page.black_box((LEFT, top_thin[1] + 0.5, RIGHT_EDGE + 1, top_thin[1] + 12))
    assert near(nx1, RIGHT_EDGE, 1.0) and near(ny0 - top_thin[1], 14 * 25.4 / 72, 1.0), (nx1, ny0)
    assert page.black_box((0, BOTTOM_EDGE + 1, 210, 297)) is None  # no page number on the first page
    assert not page.rules("black", min_mm=150)  # no 版记 rules in a letter


@pytest.mark.slow
def test_parallel_conversions_use_private_profiles(tmp_path):
    _tools_or_skip()
    data = render_docx(request())
    results: list[bytes | Exception] = []

    def convert():
        try:
            results.append(docx_to_pdf(data))
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=convert) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, bytes) and r.startswith(b"%PDF") for r in results), results


# ---------------------------------------------------------------- the command's errors

def test_render_without_libreoffice_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    src = tmp_path / "request.json"
    src.write_text(json.dumps(request().to_json(), ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without soffice on its PATH
    assert main(["doc", "render", str(src), "--format", "pdf", "-o", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err
    assert "LibreOffice" in err and "install.sh" in err and "(unavailable)" in err
    assert not (tmp_path / "x.pdf").exists()


def test_render_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["doc", "render", str(tmp_path / "nope.json"), "-o", str(tmp_path / "x.docx")]) == 1
    assert "(not_found)" in capsys.readouterr().err


def test_render_to_docx_from_a_sample(samples, tmp_path):
    out = tmp_path / "notice.docx"
    assert main(["doc", "render", str(samples / "notice-downward.docx"), "-o", str(out)]) == 0
    assert import_docx(out).to_json() == import_docx(samples / "notice-downward.docx").to_json()


# ---------------------------------------------------------------- title lines (pure)

@pytest.mark.parametrize(("title", "lines"), [
    ("关于商请协办2026年云岭文化旅游节的函", ["关于商请协办2026年云岭文化旅游节的函"]),
    ("利津县人民政府关于申请拨付防汛物资储备资金的请示", ["利津县人民政府", "关于申请拨付防汛物资储备资金的请示"]),
    ("东营市财政局关于商请提供2026年度预算执行情况的函", ["东营市财政局", "关于商请提供2026年度预算执行情况的函"]),
    ("关于做好2026年暑期新时代文明实践工作的通知", ["关于做好2026年", "暑期新时代文明实践工作的通知"]),
    ("东营市人民政府关于印发东营市安全生产专项整治三年行动实施方案和东营市城镇燃气安全排查整治工作方案的通知",
     ["东营市人民政府关于印发", "东营市安全生产专项整治三年行动实施方案和", "东营市城镇燃气安全排查整治工作方案的通知"]),
])
def test_titles_break_where_the_words_allow(title, lines):
    from exchange_bridge.render.geometry import title_lines

    assert title_lines(title, 20) == lines


def test_property_elements_are_in_schema_order():
    """Word refuses a file whose w:pPr / w:rPr children are out of the schema's order."""
    from exchange_bridge.render.wordml import PPR_SEQ, RPR_SEQ

    letter = import_docx(SAMPLES / "letter-parallel.docx")
    for doc in (notice(), request(), letter):
        for name, root in _parts(render_docx(doc)).items():
            for tag, seq in (("pPr", PPR_SEQ), ("rPr", RPR_SEQ)):
                for el in root.iter(f"{W}{tag}"):
                    if el.getparent().tag in (f"{W}pPrChange", f"{W}rPrChange"):
                        continue
                    order = [seq.index("w:" + etree.QName(c).localname) for c in el
                             if "w:" + etree.QName(c).localname in seq]
                    assert order == sorted(order), (name, tag, [etree.QName(c).localname for c in el])


def test_a_joint_mark_prints_one_issuer_a_line_and_reads_back():
    doc = notice().model_copy(update={"issuer": "中共东营市委办公室\n东营市人民政府办公室文件",
                                      "signed_by": ["中共东营市委办公室", "东营市人民政府办公室"]})
    data = render_docx(doc)
    runs = [r for r in _runs(_parts(data)["word/document.xml"]) if r[3] == "FF0000"]
    [(text, font, size, _)] = runs
    assert (text, font, size) == ("中共东营市委办公室东营市人民政府办公室文件", "方正小标宋简体", 84)  # 初号: sized by its longest line
    back = import_docx_bytes(data)
    assert (back.issuer, back.signed_by) == (doc.issuer, doc.signed_by)


def test_render_to_an_unwritable_place_is_a_clear_error(samples, tmp_path, capsys):
    out = tmp_path / "no-such-dir" / "x.docx"
    assert main(["doc", "render", str(samples / "request-upward.docx"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(out) in err and "(bad_request)" in err


@pytest.mark.slow
def test_a_conversion_past_its_timeout_is_stopped_whole(tmp_path):
    _tools_or_skip()
    import psutil

    from hub.errors import Unavailable

    before = {p.pid for p in psutil.process_iter() if p.name().startswith("soffice")}
    with pytest.raises(Unavailable) as info:
        docx_to_pdf(render_docx(request()), timeout=0.5)
    assert info.value.key == "error.render_timeout"
    left = [p for p in psutil.process_iter() if p.name().startswith("soffice") and p.pid not in before]
    assert not [p for p in left if p.status() != psutil.STATUS_ZOMBIE], left


def test_a_letter_word_file_has_page_anchored_double_lines_and_a_bare_first_page():
    letter = import_docx(SAMPLES / "letter-parallel.docx")
    parts = _parts(render_docx(letter))
    doc = parts["word/document.xml"]
    assert doc.find(f"{W}body/{W}sectPr/{W}titlePg") is not None  # first page: no page number
    frames = [p for p in doc.iter(f"{W}p") if p.find(f"{W}pPr/{W}framePr") is not None]
    borders = [(f.find(f"{W}pPr/{W}framePr").get(f"{W}vAnchor"), b.get(f"{W}val"), b.get(f"{W}color"))
               for f in frames for b in f.iter() if b.tag in (f"{W}top", f"{W}bottom")]
    assert borders == [("page", "thickThinSmallGap", "FF0000"), ("page", "thickThinSmallGap", "FF0000")]
    mark = frames[0].find(f"{W}pPr/{W}framePr")
    assert int(mark.get(f"{W}w")) == round(170 / 25.4 * 1440)  # the double lines are 170 mm
