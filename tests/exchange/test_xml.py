"""Exchange XML: Word → XML → model keeps every field, every written file validates
against the schema in the repository, and hostile files are refused with a reason."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from doc_samples import UNSTYLED, make_docx, sample_names
from lxml import etree

from exchange_bridge.docx_import import import_docx
from exchange_bridge.model import FIELDS, Document
from exchange_bridge.xml_codec import NS, SCHEMA_PATH, XmlLimits, dump_xml, load_xml
from hub.cli import main
from hub.errors import HubError
from hub.i18n import translate


def independent_schema() -> etree.XMLSchema:
    """The schema file read afresh, not through the codec's cached copy."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def full_document() -> Document:
    return Document.from_json({
        "kind": "请示", "direction": "上行文", "copy_no": "000012", "secrecy": "机密★1年", "urgency": "特急",
        "issuer": "利津县人民政府\n利津县人民武装部文件", "number": "利政发〔2026〕8号", "signer": ["李建国", "王芳"],
        "title": "关于申请拨付防汛物资储备资金的请示", "to": ["东营市人民政府"],
        "body": [
            {"type": "paragraph", "text": "一、基本情况", "level": 1},
            {"type": "paragraph", "text": "  今年汛期 <多雨> & “偏多”\n第二行", "level": 0},
            {"type": "paragraph", "text": "", "level": 0},
            {"type": "table", "rows": [["物资", "数量"], ["编织袋", ""], []]},
        ],
        "attachments": [{"name": "需求清单", "file": "attachments/1.xlsx"}, "联系人名单"],
        "signed_by": ["利津县人民政府", "利津县人民武装部"], "date": "二〇二六年十一月十八日", "note": "（联系人：王晓明）",
        "cc": ["市应急局", "市财政局"], "printed_by": "利津县人民政府办公室", "printed_date": "2026年11月18日",
    })


def test_every_field_survives_model_to_xml_to_model():
    doc = full_document()
    assert doc.absent() == []
    data = dump_xml(doc)
    assert independent_schema().validate(etree.fromstring(data))
    assert load_xml(data) == doc


@pytest.mark.parametrize("name", sample_names())
def test_word_to_xml_to_model_keeps_every_field_of_the_samples(samples, name):
    doc = import_docx(samples / f"{name}.docx")
    data = dump_xml(doc)
    assert independent_schema().validate(etree.fromstring(data))
    back = load_xml(data)
    for field in (*FIELDS, "missing"):
        assert getattr(back, field) == getattr(doc, field), field


def test_word_to_xml_round_trip_of_a_field_file_with_a_table(tmp_path):
    items = [*UNSTYLED[:11], [["指标", "数值"], ["火灾起数", "下降"]], *UNSTYLED[11:]]
    doc = import_docx(make_docx(tmp_path / "t.docx", items))
    assert any(b.type == "table" for b in doc.body)
    assert load_xml(dump_xml(doc)) == doc


def test_the_xml_groups_fields_into_head_body_and_footer():
    root = etree.fromstring(dump_xml(full_document()))
    q = f"{{{NS}}}"
    assert [child.tag for child in root] == [q + "head", q + "body", q + "footer"]
    assert [c.tag.removeprefix(q) for c in root.find(q + "head")] == [
        "kind", "direction", "copy_no", "secrecy", "urgency", "issuer", "number", "signer"]
    assert [c.tag.removeprefix(q) for c in root.find(q + "body")] == [
        "title", "to", "content", "attachments", "signed_by", "date", "note"]
    assert [c.tag.removeprefix(q) for c in root.find(q + "footer")] == ["cc", "printed_by", "printed_date"]
    number = root.find(f"{q}head/{q}number")
    assert (number.text, number.get("agency"), number.get("year"), number.get("serial")) == (
        "利政发〔2026〕8号", "利政发", "2026", "8")


def test_an_empty_document_is_valid_and_lists_what_is_missing():
    doc = Document(missing=list(FIELDS))
    assert load_xml(dump_xml(doc)) == doc


def test_a_document_the_schema_refuses_is_never_written():
    with pytest.raises(HubError) as caught:
        # the model refuses such a title; built past its checks, the schema still stops it
        dump_xml(Document.model_construct(**{**Document().__dict__, "title": "关于" * 300 + "的通知"}))
    assert caught.value.key == "error.doc_xml_invalid"
    with pytest.raises(HubError):
        dump_xml(Document(title="控制字符\x01"))


# ---------------------------------------------------------------- reading what others send

def good_xml() -> str:
    return dump_xml(full_document()).decode()


def refused(data: bytes | str, limits: XmlLimits = XmlLimits()) -> HubError:
    with pytest.raises(HubError) as caught:
        load_xml(data.encode() if isinstance(data, str) else data, limits)
    message = translate(caught.value.key, **caught.value.params)
    assert not message.startswith("error."), message
    return caught.value


@pytest.mark.parametrize(("change", "detail"), [
    (("<kind>请示</kind>", "<kind>便条</kind>"), "kind"),
    (("<urgency>特急</urgency>", "<urgency>很急</urgency>"), "urgency"),
    (('iso="2026-11-18">二〇二六', 'iso="2026-11-19">二〇二六'), None),
    (('serial="8"', 'serial="9"'), None),
    (('<p level="1">', '<p level="7">'), "level"),
    (("<title>", "<colour>红</colour><title>"), "colour"),
    (("<head>", "<head><head/>"), None),
    (('version="1"', 'version="2"'), "version"),
    (("<footer>", "<footer><printed_by>甲</printed_by>"), None),
    ((f'xmlns="{NS}"', 'xmlns="urn:other"'), None),
])
def test_files_that_break_the_format_are_refused_with_the_reason(change, detail):
    old, new = change
    text = good_xml()
    assert old in text
    error = refused(text.replace(old, new, 1))
    assert error.code == "bad_request"
    assert error.key in ("error.doc_xml_invalid", "error.doc_bad_date", "error.doc_bad_number")
    if detail:
        assert detail in error.params["detail"]


XXE = """<?xml version="1.0"?>
<!DOCTYPE document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<document xmlns="urn:changtong:exchange:document:1" version="1"><head/><body><title>&xxe;</title></body><footer/></document>"""

LAUGHS = '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' + "".join(
    f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10)
) + ']>\n<document xmlns="urn:changtong:exchange:document:1" version="1"><head/><body><title>&lol9;</title></body><footer/></document>'

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE document SYSTEM "http://127.0.0.1:9/evil.dtd">
<document xmlns="urn:changtong:exchange:document:1" version="1"><head/><body/><footer/></document>"""


@pytest.mark.parametrize(("data", "key"), [
    (XXE, "error.doc_xml_forbidden"),
    (LAUGHS, "error.doc_xml_forbidden"),
    (EXTERNAL_DTD, "error.doc_xml_forbidden"),
    ("<document>&undefined;</document>", "error.doc_xml_malformed"),
    ("<document><head></document>", "error.doc_xml_malformed"),
    ("", "error.doc_xml_malformed"),
    ('<?xml version="1.0" encoding="UTF-16"?><document/>'.encode("utf-16"), "error.doc_xml_malformed"),
])
def test_hostile_xml_is_refused_before_it_can_do_harm(data, key):
    error = refused(data)
    assert error.code == "bad_request" and error.key == key


def test_deep_nesting_is_refused_at_the_first_element_too_deep():
    deep = '<document xmlns="urn:changtong:exchange:document:1" version="1">' + "<x>" * 50_000 + "</x>" * 50_000 + "</document>"
    tracemalloc.start()
    try:
        error = refused(deep)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.key == "error.doc_xml_too_deep" and error.params["limit"] == XmlLimits().max_depth
    assert peak < 32 * 1024 * 1024


def test_huge_text_and_huge_files_are_refused():
    huge_text = good_xml().replace("<title>", "<title>" + "长" * 300_000, 1)
    error = refused(huge_text)
    assert error.code == "too_large" and error.params["what"] == "text"
    error = refused(b"<document>" + b" " * (9 * 1024 * 1024) + b"</document>")
    assert error.code == "too_large" and error.params["what"] == "file"
    many = '<document xmlns="urn:changtong:exchange:document:1" version="1"><head/><body><content>' + "<p/>" * 200_000
    error = refused(many + "</content></body><footer/></document>")
    assert error.code == "too_large" and error.params["what"] == "elements"


def test_the_commands_export_and_validate(tmp_path, capsys, samples):
    out = tmp_path / "n.xml"
    assert main(["doc", "export", str(samples / "notice-downward.docx"), "--format", "xml", "-o", str(out)]) == 0
    assert independent_schema().validate(etree.parse(str(out)))
    capsys.readouterr()
    assert main(["doc", "validate", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "valid" in printed and "发文字号：东政办发〔2026〕15号" in printed
    out.write_text(out.read_text(encoding="utf-8").replace("<kind>通知</kind>", "<kind>便条</kind>"), encoding="utf-8")
    assert main(["doc", "validate", str(out)]) == 1
    err = capsys.readouterr().err
    assert "不符合公文交换格式" in err and "便条" in err and "(bad_request)" in err
    (tmp_path / "evil.xml").write_text(XXE, encoding="utf-8")
    assert main(["doc", "validate", str(tmp_path / "evil.xml")]) == 1
    assert "DTD" in capsys.readouterr().err
    # JSON of the model in, XML out (to standard output)
    (tmp_path / "d.json").write_text(full_document().dumps(), encoding="utf-8")
    assert main(["doc", "export", str(tmp_path / "d.json")]) == 0
    assert load_xml(capsys.readouterr().out.encode()) == full_document()


def test_the_documented_example_is_valid_and_complete():
    text = (Path(__file__).resolve().parents[2] / "docs" / "exchange-format.md").read_text(encoding="utf-8")
    example = text.split("```xml\n", 1)[1].split("```", 1)[0]
    doc = load_xml(example.encode())
    assert doc.absent() == [] and doc.missing == []
    assert dump_xml(doc).decode() == example


def test_the_schema_and_the_model_agree_on_every_closed_list():
    from exchange_bridge.model import ACCEPTED_KINDS, DIRECTIONS, SECRECY_LEVELS, URGENCIES

    xsd = etree.parse(str(SCHEMA_PATH))
    xs = {"xs": "http://www.w3.org/2001/XMLSchema"}

    def enumeration(type_name: str) -> set[str]:
        return set(xsd.xpath(f"//xs:simpleType[@name='{type_name}']//xs:enumeration/@value", namespaces=xs))

    assert enumeration("Kind") == set(ACCEPTED_KINDS)
    assert enumeration("Direction") == set(DIRECTIONS)
    assert enumeration("Urgency") == set(URGENCIES)
    assert enumeration("FieldName") == set(FIELDS)
    levels = set(xsd.xpath("//xs:complexType[@name='Secrecy']//xs:enumeration/@value", namespaces=xs))
    assert levels == set(SECRECY_LEVELS)
