"""The document model: field set, JSON form, number and date parsing, direction inference."""

from __future__ import annotations

import datetime as dt

import pytest

from exchange_bridge.model import (
    ACCEPTED_KINDS,
    FIELDS,
    KINDS_2000,
    KINDS_2012,
    Document,
    Paragraph,
    Table,
    infer_direction,
    parse_date,
    parse_number,
    unit_rank,
)
from hub.errors import BadRequest
from hub.i18n import translate

from doc_samples import expected, sample_names


def full_document() -> Document:
    return Document.from_json({
        "kind": "请示", "direction": "上行文", "copy_no": "000012", "secrecy": "机密★1年", "urgency": "特急",
        "issuer": "利津县人民政府文件", "number": "利政发〔2026〕8号", "signer": ["李建国", "王芳"],
        "title": "利津县人民政府关于申请拨付防汛物资储备资金的请示", "to": ["东营市人民政府"],
        "body": [
            {"type": "paragraph", "text": "一、基本情况", "level": 1},
            {"type": "paragraph", "text": "今年汛期……", "level": 0},
            {"type": "table", "rows": [["物资", "数量"], ["编织袋", "5万条"]]},
        ],
        "attachments": [{"name": "需求清单", "file": "attachments/1.xlsx"}, "联系人名单"],
        "signed_by": ["利津县人民政府"], "date": "二〇二六年十一月十八日", "note": "（联系人：王晓明）",
        "cc": ["市应急局"], "printed_by": "利津县人民政府办公室", "printed_date": "2026年11月18日",
    })


def test_every_field_survives_the_json_round_trip():
    doc = full_document()
    data = doc.to_json()
    assert list(data) == [*FIELDS, "missing"]
    assert data["number"] == {"text": "利政发〔2026〕8号", "agency": "利政发", "year": 2026, "serial": 8}
    assert data["date"] == {"text": "二〇二六年十一月十八日", "iso": "2026-11-18"}
    assert data["attachments"][1] == {"name": "联系人名单", "file": None}
    assert Document.from_json(doc.dumps()) == doc
    assert doc.absent() == []
    assert doc.secrecy_level == "机密" and doc.secrecy_term == "1年"
    assert isinstance(doc.body[2], Table) and isinstance(doc.body[0], Paragraph)


@pytest.mark.parametrize("name", sample_names())
def test_the_samples_expected_json_is_the_model_json_form(samples, name):
    data = {k: v for k, v in expected(samples, name).items() if not k.startswith("_")}
    doc = Document.from_json(data)
    for field, value in data.items():
        assert doc.has(field), field
    assert doc.inferred_direction() == data["direction"]


@pytest.mark.parametrize(("text", "agency", "year", "serial", "standard"), [
    ("东政办发〔2026〕15号", "东政办发", 2026, 15, True),
    ("国办函〔2025〕1号", "国办函", 2025, 1, True),
    ("东政办发 〔2026〕 15 号", "东政办发", 2026, 15, True),
    ("鲁政字[2026]3号", "鲁政字", 2026, 3, False),
    ("东财【2026】第07号", "东财", 2026, 7, False),
    ("第12号", "", None, 12, True),
])
def test_document_numbers_are_parsed_into_parts(text, agency, year, serial, standard):
    number = parse_number(text)
    assert (number.agency, number.year, number.serial, number.standard) == (agency, year, serial, standard)


@pytest.mark.parametrize("text", ["东政办发〔26〕15号", "东政办发〔2026〕号", "〔2026〕15号", "东政办发2026年15号", "东政办发〔1900〕1号", ""])
def test_bad_document_numbers_are_refused_with_a_clear_message(text):
    with pytest.raises(BadRequest) as caught:
        parse_number(text)
    assert caught.value.key == "error.doc_bad_number"
    assert "东政办发〔2026〕15号" in translate(caught.value.key, **caught.value.params)


def test_number_parts_must_agree_with_the_printed_text():
    with pytest.raises(BadRequest):
        Document.from_json({"number": {"text": "东政办发〔2026〕15号", "agency": "东政发", "year": 2026, "serial": 15}})


@pytest.mark.parametrize(("text", "iso"), [
    ("2026年11月20日", "2026-11-20"),
    ("二〇二六年十一月二十日", "2026-11-20"),
    ("二〇二六年一月三十一日", "2026-01-31"),
    ("二○二六年十月九日", "2026-10-09"),
    ("２０２６年１月５日", "2026-01-05"),
    ("2026 年 7 月 16 日", "2026-07-16"),
])
def test_dates_are_read_as_printed_and_as_iso(text, iso):
    assert parse_date(text).iso == dt.date.fromisoformat(iso)


@pytest.mark.parametrize("text", ["2026年2月30日", "二〇二六年十三月一日", "2026-11-20", "2026年11月", "十一月二十日"])
def test_impossible_or_partial_dates_are_refused(text):
    with pytest.raises(BadRequest) as caught:
        parse_date(text)
    assert caught.value.code == "bad_request" and caught.value.key == "error.doc_bad_date"


def test_kinds_cover_both_regulations():
    assert len(KINDS_2012) == 15 and len(KINDS_2000) == 13
    assert set(KINDS_2012) | set(KINDS_2000) <= set(ACCEPTED_KINDS)
    for kind in ACCEPTED_KINDS:
        assert Document(kind=kind).kind == kind
    assert Document.from_json({"kind": "令"}).kind == "命令"
    with pytest.raises(BadRequest) as caught:
        Document.from_json({"kind": "便条"})
    assert caught.value.params["field"] == "kind"


@pytest.mark.parametrize(("kind", "issuers", "to", "direction"), [
    ("请示", ["利津县人民政府"], ["东营市人民政府"], "上行文"),
    ("报告", ["市教育局"], [], "上行文"),
    ("批复", ["东营市人民政府"], ["利津县人民政府"], "下行文"),
    ("函", ["云岭市人民政府办公室"], ["省文化和旅游厅"], "平行文"),
    ("通知", ["东营市人民政府办公室"], ["各县区人民政府", "市政府各部门"], "下行文"),
    ("通知", ["东营市教育局"], ["东营市财政局"], "平行文"),
    ("意见", ["利津县人民政府"], ["东营市人民政府"], "上行文"),
    ("意见", ["东营市人民政府"], ["利津县人民政府", "垦利区人民政府"], "下行文"),
    ("通知", ["某某单位"], ["另一单位"], None),
    ("纪要", ["东营市人民政府办公室"], [], None),
    (None, ["东营市人民政府"], ["利津县人民政府"], "下行文"),
])
def test_direction_is_inferred_from_kind_and_unit_levels(kind, issuers, to, direction):
    assert infer_direction(kind, issuers, to) == direction


def test_known_unit_levels_override_what_names_show():
    assert infer_direction("通知", ["某某单位"], ["另一单位"], {"某某单位": 2, "另一单位": 3}) == "下行文"
    assert unit_rank("山东省东营市人民政府") == 2 and unit_rank("省文化和旅游厅") == 1 and unit_rank("某某中心") is None


def test_missing_names_only_absent_fields():
    assert Document(missing=["cc", "kind", "cc"]).missing == ["kind", "cc"]
    with pytest.raises(BadRequest):
        Document.from_json({"title": "关于……的通知", "missing": ["title"]})
    with pytest.raises(BadRequest):
        Document.from_json({"missing": ["colour"]})


def test_a_plain_unclassified_notice_lacks_nothing_the_standard_leaves_optional():
    """份号, 密级, 紧急程度, 签发人, 附件说明, 附注 and the 版记 are conditional or optional
    (GB/T 9704-2012): a complete ordinary 通知 lacks none of them."""
    notice = Document(
        kind="通知", issuer="东营市人民政府办公室文件", number="东政办发〔2026〕15号", title="关于做好冬季安全生产工作的通知",
        to=["各县区人民政府"], body=[{"type": "paragraph", "text": "现将有关事项通知如下。"}], signed_by=["东营市人民政府办公室"],
        date="2026年11月20日",
    )
    assert notice.lacking() == []
    assert set(notice.absent()) == {"direction", "copy_no", "secrecy", "urgency", "signer", "attachments", "note", "cc",
                                    "printed_by", "printed_date"}
    assert notice.model_copy(update={"title": None, "date": None}).lacking() == ["title", "date"]


@pytest.mark.parametrize(("update", "lacking"), [
    ({"kind": "请示", "to": ["东营市人民政府"]}, ["signer"]),  # 上行文: 签发人 is required
    ({"secrecy": "秘密★1年"}, ["copy_no"]),  # a classified document carries its 份号
    ({"kind": "公告", "to": [], "number": None}, []),  # 普发: no 主送, often no 字号
    ({"kind": "纪要", "to": [], "signed_by": []}, []),
    ({"kind": None}, ["kind"]),
])
def test_what_is_required_follows_the_kind_and_the_direction(update, lacking):
    base = Document(
        kind="通知", issuer="垦利区人民政府文件", number="垦政发〔2026〕3号", title="关于开展安全检查的通知", to=["各镇人民政府"],
        body=[{"type": "paragraph", "text": "正文"}], signed_by=["垦利区人民政府"], date="2026年11月20日",
    )
    assert Document.model_validate({**base.to_json(), **update}).lacking() == lacking


@pytest.mark.parametrize("bad", [
    {"secrecy": "绝对机密"}, {"urgency": "很急"}, {"to": [""]}, {"body": [{"type": "paragraph", "text": "x", "level": 5}]},
    {"body": [{"type": "image"}]}, {"colour": "red"}, {"date": "明天"}, {"title": "长" * 501}, {"to": ["长" * 201]},
    {"copy_no": "第一份"}, {"note": "注" * 2001},
])
def test_bad_fields_are_refused_with_a_stable_code(bad):
    with pytest.raises(BadRequest) as caught:
        Document.from_json(bad)
    assert caught.value.code == "bad_request"
    assert not translate(caught.value.key).startswith("error.")


def test_bad_json_text_is_refused():
    with pytest.raises(BadRequest) as caught:
        Document.from_json("{not json")
    assert caught.value.key == "error.doc_bad_json"
