"""Word import: the shared samples, field layouts made here with python-docx, the CLI,
and hostile files (zip bombs, malformed and huge packages)."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from doc_samples import UNSTYLED, expected, make_docx, sample_names

from exchange_bridge.docx_import import import_docx, import_docx_bytes
from exchange_bridge.model import FIELDS, Document, Paragraph, Table
from hub.cli import main
from hub.errors import HubError
from hub.i18n import translate


@pytest.mark.parametrize("name", sample_names())
def test_samples_import_with_their_expected_fields(samples, name):
    want = expected(samples, name)
    doc = import_docx(samples / f"{name}.docx")
    fields = {k: v for k, v in want.items() if not k.startswith("_")}
    assert fields, "a sample without expected fields tests nothing"
    wanted = Document.from_json(fields)
    for field in fields:
        assert getattr(doc, field) == getattr(wanted, field), field
        assert field not in doc.missing
    for field in want.get("_expect_missing", []):
        assert field in doc.missing and not doc.has(field), field
    # missing is exactly what the import did not yield
    assert doc.missing == [f for f in FIELDS if not doc.has(f)]
    assert doc.body, "the body was read"


# What each sample does not print (read off the files): the import must list exactly these.
SAMPLE_MISSING = {
    "field-letter": ["copy_no", "secrecy", "urgency", "signer", "attachments", "note", "cc", "printed_by", "printed_date"],
    "field-standard-notice": ["urgency", "signer"],
    "letter-parallel": ["copy_no", "secrecy", "urgency", "signer", "attachments", "note", "cc", "printed_by",
                        "printed_date"],
    "notice-downward": ["copy_no", "secrecy", "urgency", "signer"],
    "request-upward": ["copy_no", "secrecy", "cc", "printed_by", "printed_date"],
}


@pytest.mark.parametrize("name", sample_names())
def test_samples_list_what_they_do_not_print(samples, name):
    if name not in SAMPLE_MISSING:
        pytest.fail(f"new sample {name}: add what it does not print to SAMPLE_MISSING")
    assert import_docx(samples / f"{name}.docx").missing == SAMPLE_MISSING[name]


def test_a_seal_placeholder_is_not_a_signature(samples):
    doc = import_docx(samples / "field-standard-notice.docx")
    assert doc.signed_by == ["中共云岭市委办公室"]
    assert [b.level for b in doc.body if isinstance(b, Paragraph) and b.level] == [1, 2, 1]




def test_an_unstyled_file_is_read_by_content_and_position(tmp_path):
    doc = import_docx(make_docx(tmp_path / "plain.docx", UNSTYLED))
    assert (doc.copy_no, doc.secrecy, doc.urgency) == ("000123", "机密★6个月", "加急")
    assert doc.issuer == "东营市应急管理局文件"
    assert (doc.number.agency, doc.number.year, doc.number.serial) == ("东应急发", 2026, 7)
    assert doc.title == "东营市应急管理局关于开展2026年冬春火灾防控工作的通知"  # a title over two lines
    assert doc.kind == "通知" and doc.direction == "下行文"
    assert doc.to == ["各县区应急管理局", "市直有关部门"]
    assert [(b.level, b.text) for b in doc.body] == [
        (0, "为做好冬春火灾防控工作，现将有关事项通知如下。"), (1, "一、总体要求"), (2, "（一）压实责任"),
        (3, "1．落实属地责任"), (4, "（1）县区每周调度一次。"), (1, "二、工作措施"),
    ]
    assert [a.name for a in doc.attachments] == ["冬春火灾防控任务分工", "重点场所名单"]
    assert doc.signed_by == ["东营市应急管理局"]
    assert doc.date.text == "二〇二六年十二月一日" and doc.date.iso.isoformat() == "2026-12-01"
    assert doc.note == "（此件依申请公开）"
    assert doc.cc == ["市消防救援支队"]
    assert doc.printed_by == "东营市应急管理局办公室" and doc.printed_date.iso.isoformat() == "2026-12-01"
    assert doc.missing == ["signer"]


def test_joint_issue_on_one_line_and_on_two(tmp_path):
    head = ["东营市人民政府", "中共东营市委", "文件", "东政发〔2026〕3号", "关于加强冬季供暖保障的意见",
            "各县区党委和人民政府：", "现提出如下意见。"]
    one = import_docx(make_docx(tmp_path / "one.docx", [*head, "中共东营市委　　　　东营市人民政府", "2026年12月3日"]))
    two = import_docx(make_docx(tmp_path / "two.docx", [*head, {"text": "中共东营市委", "align": "right"},
                                                       {"text": "东营市人民政府", "align": "right"}, "2026年12月3日"]))
    for doc in (one, two):
        assert doc.signed_by == ["中共东营市委", "东营市人民政府"]
        assert doc.issuer == "东营市人民政府\n中共东营市委文件"
        assert doc.kind == "意见" and doc.direction == "下行文"


def test_a_joint_issuer_mark_laid_out_as_a_table(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        [["东营市人民政府", "文件"], ["东营军分区", ""]], "东政发〔2026〕4号", "关于做好征兵工作的通知",
        "各县区人民政府：", "现就有关事项通知如下。", "东营市人民政府　东营军分区", "2026年3月1日",
    ]))
    assert doc.issuer == "东营市人民政府\n东营军分区文件"
    assert doc.number.text == "东政发〔2026〕4号" and doc.signed_by == ["东营市人民政府", "东营军分区"]


def test_a_table_in_the_body_stays_a_table(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "东营市统计局", "东统函〔2026〕2号", "关于报送季度数据的函", "各县区统计局：", "请按下表报送。",
        [["指标", "单位", "数值"], ["地区生产总值", "亿元", "1000"]], "特此函告。", "东营市统计局", "2026年4月2日",
    ]))
    assert doc.body == [
        Paragraph(text="请按下表报送。"),
        Table(rows=[["指标", "单位", "数值"], ["地区生产总值", "亿元", "1000"]]),
        Paragraph(text="特此函告。"),
    ]
    assert doc.kind == "函" and doc.direction == "平行文"


def test_marks_in_the_page_header_and_attachments_after_the_signature(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "利津县人民政府", "利政字〔2026〕11号　　签发人：李建国　张伟", "关于申请设立物流园区的请示", "东营市人民政府：",
        "特此请示。", "利津县人民政府", "2026年5月6日", "附件：园区规划图", "（联系人：王晓明）",
    ], header=["秘密★1年　　特急"]))
    assert (doc.secrecy, doc.urgency) == ("秘密★1年", "特急")
    assert doc.signer == ["李建国", "张伟"]
    assert [a.name for a in doc.attachments] == ["园区规划图"]
    assert doc.note == "（联系人：王晓明）"
    assert doc.body == [Paragraph(text="特此请示。")]
    assert doc.direction == "上行文"


def test_an_order_layout(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        {"text": "东营市人民政府令", "red": True, "size": 26, "align": "center"}, {"text": "第12号", "align": "center"},
        "《东营市城市绿化管理办法》已经市政府第5次常务会议通过，现予公布，自2026年7月1日起施行。",
        {"text": "市长　张三", "align": "right"}, {"text": "2026年6月1日", "align": "right"},
    ]))
    assert doc.kind == "命令" and doc.direction == "下行文"
    assert doc.issuer == "东营市人民政府令" and doc.number.text == "第12号" and doc.number.year is None
    assert doc.signed_by == ["市长 张三"]
    assert "title" in doc.missing and "to" in doc.missing


def test_a_minutes_layout(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        {"text": "东营市人民政府常务会议纪要", "red": True, "size": 26, "align": "center"},
        "2026年1月9日，市长张三主持召开市政府常务会议，研究了以下事项。", "一、关于城市更新工作",
        "会议听取了市住建局的汇报。",
    ]))
    assert doc.kind == "纪要" and doc.issuer == "东营市人民政府常务会议纪要"
    assert doc.body[1] == Paragraph(text="一、关于城市更新工作", level=1)
    for field in ("title", "to", "number", "date", "signed_by", "direction"):
        assert field in doc.missing  # nothing guessed: the 2026年1月9日 in a sentence is no 成文日期


def test_a_file_with_only_prose_yields_only_a_body(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", ["今天下午三点开会。", "请准时参加。"]))
    assert [b.text for b in doc.body] == ["今天下午三点开会。", "请准时参加。"]
    assert doc.missing == [f for f in FIELDS if f != "body"]


def test_the_command_prints_json_or_a_chinese_summary(tmp_path, capsys):
    path = make_docx(tmp_path / "plain.docx", UNSTYLED)
    assert main(["doc", "import", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["number"]["serial"] == 7 and data["missing"] == ["signer"]
    assert main(["doc", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "发文字号：东应急发〔2026〕7号" in out and "未识别的字段：签发人" in out
    assert "行文方向：下行文（未印于文中，由文种和机关层级推断）" in out


def test_the_command_reports_errors_with_their_code(tmp_path, capsys):
    assert main(["doc", "import", str(tmp_path / "nope.docx")]) == 1
    assert "(not_found)" in capsys.readouterr().err
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 not really")
    assert main(["doc", "import", str(tmp_path / "bad.docx")]) == 1
    err = capsys.readouterr().err
    assert "不是 Word（.docx）文件" in err and "(bad_request)" in err


# ---------------------------------------------------------------- hostile files

def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _real_parts(tmp_path: Path) -> dict[str, bytes]:
    path = make_docx(tmp_path / "base.docx", ["正文。"])
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def refused(path: Path) -> HubError:
    with pytest.raises(HubError) as caught:
        import_docx(path)
    message = translate(caught.value.key, **caught.value.params)
    assert not message.startswith("error."), message
    return caught.value


def test_a_zip_bomb_is_refused_in_bounded_memory(tmp_path):
    parts = _real_parts(tmp_path)
    parts["word/media/image1.png"] = bytes(100 * 1024 * 1024)  # 100 MB of zeros: about 100 kB deflated
    path = _zip(tmp_path / "bomb.docx", parts)
    assert path.stat().st_size < 1024 * 1024
    tracemalloc.start()
    try:
        error = refused(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.code == "bad_request" and error.key == "error.doc_zip_bomb"
    assert peak < 16 * 1024 * 1024


def test_a_member_that_inflates_past_the_limits_is_refused(tmp_path):
    parts = _real_parts(tmp_path)
    parts["word/document.xml"] = parts["word/document.xml"].replace(
        b"</w:body>", b"<w:p><w:r><w:t>" + "测试文字".encode() * 2_000_000 + b"</w:t></w:r></w:p></w:body>")
    error = refused(_zip(tmp_path / "big.docx", parts))
    assert error.code in ("too_large", "bad_request")


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.docx"
    with path.open("wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper
    assert refused(path).code == "too_large"


def test_too_many_paragraphs_are_refused(tmp_path):
    parts = _real_parts(tmp_path)
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"</w:body>", b"<w:p/>" * 30_000 + b"</w:body>")
    error = refused(_zip(tmp_path / "long.docx", parts))
    assert error.code == "too_large" and error.params["what"] == "paragraphs"


@pytest.mark.parametrize("damage", ["truncated", "no_document", "bad_xml", "entity", "not_zip"])
def test_malformed_packages_are_refused(tmp_path, damage):
    parts = _real_parts(tmp_path)
    if damage == "truncated":
        data = (tmp_path / "base.docx").read_bytes()
        (tmp_path / "x.docx").write_bytes(data[: len(data) // 2])
    elif damage == "not_zip":
        (tmp_path / "x.docx").write_bytes("这不是一个压缩包".encode() * 100)
    else:
        if damage == "no_document":
            del parts["word/document.xml"]
        elif damage == "bad_xml":
            parts["word/document.xml"] = parts["word/document.xml"][:-40]
        else:
            laughs = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
                      + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10)
                                 for i in range(9))
                      + b']>')
            parts["word/document.xml"] = laughs + parts["word/document.xml"].split(b"?>", 1)[1]
        _zip(tmp_path / "x.docx", parts)
    error = refused(tmp_path / "x.docx")
    assert error.code == "bad_request" and error.key == "error.doc_not_docx"


def test_an_old_binary_or_encrypted_word_file_gets_advice(tmp_path):
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))  # the OLE2 container of .doc / .wps
    error = refused(path)
    assert error.key == "error.doc_old_format" and "另存为不加密码的 .docx" in translate(error.key)


def test_a_docx_that_is_a_directory_or_in_memory_garbage(tmp_path):
    (tmp_path / "dir.docx").mkdir()
    assert refused(tmp_path / "dir.docx").code == "bad_request"
    assert zipfile.is_zipfile(io.BytesIO(b"")) is False


def test_signers_on_their_own_lines_below_the_number(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "垦利区人民政府", "垦利区人民武装部", "文件", "垦政发〔2026〕5号", "签发人：刘强", "赵敏",
        "关于申请民兵训练基地建设资金的请示", "东营市人民政府：", "特此请示。", "垦利区人民政府　垦利区人民武装部",
        "2026年2月3日",
    ]))
    assert doc.signer == ["刘强", "赵敏"]
    assert doc.number.text == "垦政发〔2026〕5号"
    assert doc.title == "关于申请民兵训练基地建设资金的请示" and doc.kind == "请示"
    assert doc.issuer == "垦利区人民政府\n垦利区人民武装部文件"


def test_soft_line_breaks_and_letter_spacing(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "东营市财政局", "东财函〔2026〕22号", "关于核对2026年度\n专项资金的函", "市教育局：", "请于月底前核对。",
        "附件：1．专项资金明细\n　　　2．核对说明", {"text": "东 营 市 财 政 局\n2026 年 11 月 22 日", "align": "right"},
        "抄报：市人民政府办公室\n抄送：市审计局", "东营市财政局办公室　2026年11月22日印发",
    ]))
    assert doc.title == "关于核对2026年度专项资金的函"
    assert [a.name for a in doc.attachments] == ["专项资金明细", "核对说明"]
    assert doc.signed_by == ["东营市财政局"] and doc.date.text == "2026年11月22日"
    assert doc.cc == ["市人民政府办公室", "市审计局"]
    assert doc.body == [Paragraph(text="请于月底前核对。")]


@pytest.mark.parametrize("kind", ["决议", "决定", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示",
                                  "批复", "议案", "函", "纪要", "指示", "条例", "规定"])
def test_the_kind_is_read_from_the_title(tmp_path, kind):
    title = f"东营市人民政府关于城市管理工作的{kind}"
    doc = import_docx(make_docx(tmp_path / "t.docx", ["东政字〔2026〕1号", title, "有关事项如下。"]))
    assert (doc.title, doc.kind) == (title, kind)


@pytest.mark.parametrize(("title", "kind"), [
    ("东营市人民政府关于嘉奖抗洪抢险先进集体的命令", "命令"), ("东营市人民政府第5次常务会议纪要", "纪要"),
    ("关于东营港建设有关问题的会议纪要", "纪要"), ("东营市人民政府关于同意设立垦利经济开发区的复函", "函"),
    ("东营市人民政府关于批转市发展改革委2026年重点工作的通知", "通知"),
    ("关于转发《山东省人民政府关于加强安全生产工作的意见》的通知", "通知"),
])
def test_kinds_of_older_and_compound_titles(tmp_path, title, kind):
    doc = import_docx(make_docx(tmp_path / "t.docx", ["东政字〔2026〕1号", title, "有关事项如下。"]))
    assert (doc.title, doc.kind) == (title, kind)


def test_an_announcement_numbered_like_an_order(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        {"text": "东营市人民政府公告", "red": True, "size": 26}, "第3号", "根据有关规定，现将有关事项公告如下。",
        "东营市人民政府", "2026年8月1日",
    ]))
    assert doc.kind == "公告" and doc.number.text == "第3号" and doc.direction == "下行文"
    assert doc.signed_by == ["东营市人民政府"] and "title" in doc.missing


def test_heading_styles_give_levels_where_markers_are_missing(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "东教函〔2026〕9号", {"text": "关于开展教师培训的函", "style": "Title"}, "各县区教育局：",
        {"text": "培训安排", "style": "Heading 1"}, {"text": "时间地点", "style": "Heading 2"}, "另行通知。",
    ]))
    assert [(b.level, b.text) for b in doc.body] == [(1, "培训安排"), (2, "时间地点"), (0, "另行通知。")]


# ---------------------------------------------------------------- any arrangement, any damage

FIELD_LIKE = [
    "", "000001", "机密★1年", "特急", "秘密　加急", "东营市人民政府文件", "东政发〔2026〕3号", "东政发〔2026〕0号",
    "签发人：李建国", "签发人：", "关于做好工作的通知", "关于", "各县区人民政府：", "：", "为做好工作，现通知如下。",
    "一、总体要求", "（一）", "1．", "（1）", "附件：", "附件：1．表", "2．名单", "东营市人民政府", "2026年11月20日",
    "2026年2月30日印发", "2026年13月1日", "二〇二六年十一月二十日", "（此件公开发布）", "（", "抄送：", "抄送：甲，乙。",
    "东营市人民政府办公室　2026年11月20日印发", "印发", "第12号", "第0号", "附件1", "〔此处加盖印章〕", "令", "纪要",
    "抄送：" + "很长的机关名称" * 40, "（" + "附注" * 1500 + "）", "关于" + "很长" * 100 + "的通知",
    "东营市人民政府" * 20, "\t", "　", "文件", "东 营 市", "2026 年 1 月 1 日印发", "[2026]", "云政函[2026]8号　签发人：甲　乙",
]


def test_any_arrangement_of_field_like_lines_reads_into_a_valid_document():
    import random

    from exchange_bridge.field_reader import Grid, Line, read_fields
    from exchange_bridge.xml_codec import dump_xml, load_xml

    rng = random.Random(20261124)
    for _ in range(500):
        items = []
        for _ in range(rng.randint(0, 25)):
            if rng.random() < 0.05:
                items.append(Grid(tuple(tuple(rng.choice(FIELD_LIKE) for _ in range(rng.randint(0, 3)))
                                        for _ in range(rng.randint(0, 3)))))
            else:
                text = rng.choice(FIELD_LIKE) + (rng.choice(FIELD_LIKE) if rng.random() < 0.1 else "")
                items.append(Line(text, align=rng.choice([None, "center", "right"]), red=rng.random() < 0.1))
        doc = read_fields(items, [Line(rng.choice(FIELD_LIKE))])
        assert doc.missing == doc.absent()
        assert load_xml(dump_xml(doc)) == doc, items


def test_damaged_packages_are_read_or_refused_never_crash(samples):
    import random

    data = (samples / "field-standard-notice.docx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    rng = random.Random(3)
    outcomes = set()
    for trial in range(150):
        if trial % 3 == 0:
            blob = bytearray(data)
            for _ in range(rng.randint(1, 20)):
                blob[rng.randrange(len(blob))] = rng.randrange(256)
        else:
            damaged = dict(parts)
            name = rng.choice(["word/document.xml", "word/styles.xml", "[Content_Types].xml",
                               "word/_rels/document.xml.rels", "_rels/.rels"])
            x = bytearray(damaged[name])
            for _ in range(rng.randint(1, 5)):
                i = rng.randrange(len(x))
                x[i:i + rng.randint(0, 30)] = bytes(rng.choice(b"<>/&\"'= abcw:") for _ in range(rng.randint(0, 5)))
            damaged[name] = bytes(x)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as z:
                for k, v in damaged.items():
                    z.writestr(k, v)
            blob = out.getvalue()
        try:
            import_docx_bytes(bytes(blob))
            outcomes.add("read")
        except HubError as exc:
            outcomes.add(exc.code)
    assert "bad_request" in outcomes


def test_a_joint_mark_on_one_line_and_a_labelled_recipient_line_in_the_footer(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        {"text": "东营市人民政府　东营军分区　文件", "red": True}, "东政发〔2026〕6号", "关于做好2026年度征兵工作的通知",
        "现将有关事项通知如下。", "东营市人民政府　东营军分区", "2026年3月2日",
        "主送：各县区人民政府，各县区人民武装部", "抄送：省军区。", "东营市人民政府办公室　2026年3月2日印发",
    ]))
    assert doc.issuer == "东营市人民政府\n东营军分区文件"
    assert doc.to == ["各县区人民政府", "各县区人民武装部"] and doc.cc == ["省军区"]
    assert doc.direction == "下行文"


def test_a_letter_with_marks_beside_the_number_and_the_mark_in_the_page_header(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "000007　　　　　　东财函〔2026〕30号", "秘密★6个月", "关于提供财政数据的函", "市统计局：", "请提供数据。",
        "东营市财政局", "2026年6月6日",
    ], header=["东营市财政局文件"]))
    assert (doc.copy_no, doc.secrecy) == ("000007", "秘密★6个月")
    assert doc.number.agency == "东财函" and doc.number.serial == 30
    assert doc.issuer == "东营市财政局文件"
    assert doc.title == "关于提供财政数据的函" and doc.to == ["市统计局"]


def test_a_bomb_that_lies_about_its_size_is_refused(tmp_path):
    import struct

    parts = _real_parts(tmp_path)
    parts["word/media/image1.png"] = bytes(64 * 1024 * 1024)
    path = _zip(tmp_path / "liar.docx", parts)
    data = bytearray(path.read_bytes())
    name = b"word/media/image1.png"
    for signature, size_at, name_at in ((b"PK\x01\x02", 24, 46), (b"PK\x03\x04", 22, 30)):  # central, local header
        at = data.find(signature)
        while at >= 0 and data[at + name_at: at + name_at + len(name)] != name:
            at = data.find(signature, at + 1)
        assert at >= 0
        struct.pack_into("<I", data, at + size_at, 1000)  # "1000 bytes once inflated"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        error = refused(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.code == "bad_request" and error.key in ("error.doc_zip_bomb", "error.doc_not_docx")
    assert peak < 16 * 1024 * 1024


def test_a_ruled_data_table_with_dates_is_data_not_a_signature(tmp_path):
    path = make_docx(tmp_path / "t.docx", [
        "东营市应急管理局", "东应急函〔2026〕12号", "关于安排值班的函", "市消防救援支队：", "值班安排如下。",
        [["日期", "值班单位"], ["2026年12月31日", "市应急管理局"], ["2027年1月1日", "市消防救援支队"]],
        "特此函告。", "东营市应急管理局", "2026年12月20日",
    ])
    import docx

    word = docx.Document(str(path))
    word.tables[0].style = "Table Grid"  # the lines a data table is drawn with
    word.save(str(path))
    doc = import_docx(path)
    assert doc.date.text == "2026年12月20日" and doc.signed_by == ["东营市应急管理局"]
    assert doc.body[1] == Table(rows=[["日期", "值班单位"], ["2026年12月31日", "市应急管理局"], ["2027年1月1日", "市消防救援支队"]])


def test_a_signature_laid_out_in_a_borderless_table(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "东营市应急管理局", "东应急函〔2026〕13号", "关于安排值班的函", "市消防救援支队：", "请安排。",
        [["", "东营市应急管理局"], ["", "2026年12月21日"]],
    ]))
    assert doc.signed_by == ["东营市应急管理局"] and doc.date.text == "2026年12月21日"
    assert doc.body == [Paragraph(text="请安排。")]


@pytest.mark.parametrize(("text", "level"), [
    ("一、总体要求", 1), ("十二、其他", 1), ("（一）健全机制", 2), ("(二)压实责任", 2), ("1．落实属地责任", 3),
    ("2.加强督导", 3), ("3、强化保障", 3), ("（1）每周调度", 4), ("(12)按月报送", 4),
    ("1.5万元已拨付到位。", 0), ("2026年起施行。", 0), ("（2026年11月20日市政府常务会议通过）", 0), ("一是加强领导", 0),
])
def test_heading_levels_by_their_markers(text, level):
    from exchange_bridge.field_reader import heading_level

    assert heading_level(text) == level


def test_signature_and_date_on_one_line(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        "东营市财政局", "东财函〔2026〕40号", "关于拨付资金的函", "市教育局：", "时间　　2026年12月1日", "请查收。",
        "东营市财政局　　　　2026年12月2日", "抄送：市审计局。",
    ]))
    assert doc.signed_by == ["东营市财政局"] and doc.date.text == "2026年12月2日"
    assert [b.text for b in doc.body] == ["时间　　2026年12月1日", "请查收。"]  # a date in the body is no 成文日期
    assert doc.cc == ["市审计局"]


def test_paragraph_text_as_word_shows_it():
    from docx.oxml.parser import parse_xml

    from exchange_bridge.docx_import import _paragraph_text

    p = parse_xml(
        '<w:p xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        "<w:r><w:t>东营市</w:t><w:tab/><w:t>财政局</w:t></w:r>"
        '<w:hyperlink r:id="rId9"><w:r><w:t>（链接）</w:t></w:r></w:hyperlink>'
        '<w:del><w:r><w:delText>删掉的字</w:delText></w:r></w:del>'
        "<w:ins><w:r><w:t>插入</w:t></w:r></w:ins>"
        '<w:r><w:br/><w:t>第二行</w:t><w:br w:type="page"/></w:r>'
        "</w:p>")
    assert _paragraph_text(p) == "东营市\t财政局（链接）插入\n第二行"


def test_a_note_under_the_title_opens_the_body(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        {"text": "东营市人民政府关于表彰2026年度安全生产先进单位的决定", "align": "center"},
        {"text": "（2026年12月1日）", "align": "center"}, "各县区人民政府，市政府各部门：", "为表彰先进，市政府决定……",
        "东营市人民政府", "2026年12月1日", "（此件公开发布）",
    ]))
    assert doc.to == ["各县区人民政府", "市政府各部门"]
    assert [b.text for b in doc.body] == ["（2026年12月1日）", "为表彰先进，市政府决定……"]
    assert doc.date.text == "2026年12月1日" and doc.note == "（此件公开发布）"


def test_a_minutes_layout_with_its_issue_number_and_office_in_the_head(tmp_path):
    doc = import_docx(make_docx(tmp_path / "t.docx", [
        {"text": "东营市人民政府", "red": True, "size": 36, "align": "center"},
        {"text": "常务会议纪要", "red": True, "size": 36, "align": "center"}, {"text": "第12期", "align": "center"},
        "东营市人民政府办公室　　　　　　2026年12月5日",
        "2026年12月4日，市长张三主持召开市政府第12次常务会议。纪要如下：", "一、审议通过了《东营市城市更新实施方案》",
        "出席：张三、李四、王五", "分送：市委办公室，市人大常委会办公室。", "东营市人民政府办公室　　2026年12月5日印发",
    ]))
    assert doc.kind == "纪要" and doc.issuer == "东营市人民政府\n常务会议纪要"
    assert doc.number.text == "第12期" and doc.number.serial == 12
    assert doc.signed_by == ["东营市人民政府办公室"] and doc.date.text == "2026年12月5日"
    assert [b.text for b in doc.body] == [
        "2026年12月4日，市长张三主持召开市政府第12次常务会议。纪要如下：", "一、审议通过了《东营市城市更新实施方案》",
        "出席：张三、李四、王五"]
    assert doc.to == ["市委办公室", "市人大常委会办公室"]
    assert doc.printed_by == "东营市人民政府办公室"
    from exchange_bridge.xml_codec import dump_xml, load_xml

    assert load_xml(dump_xml(doc)) == doc
