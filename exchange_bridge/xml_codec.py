"""Document ⇄ exchange XML (lxml), checked against exchange_bridge/schema/document-1.xsd.

Writing: `dump_xml(doc)` builds the tree, validates it against the schema and returns
UTF-8 bytes; a document the schema refuses is never written.

Reading: `load_xml(data)` refuses hostile input before and while parsing, then checks
the schema, then builds the model (which checks what a schema cannot: a number's
parts against its text, a date's ISO form against the printed one):

- size: at most `XmlLimits.max_bytes` (TooLarge, before any parsing);
- UTF-8 only, and no DTD at all: no <!DOCTYPE, no <!ENTITY (entity bombs, XXE);
- the parser itself resolves no entities, loads no DTD, never touches the network,
  keeps libxml2's own limits (no huge_tree) and drops comments and PIs;
- depth, element count and text length are counted while parsing and refused at
  the first element past a limit.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from hub.errors import BadRequest, TooLarge

from .model import Document, Paragraph
from .source_file import read_bounded

__all__ = ["NS", "SCHEMA_PATH", "XmlLimits", "dump_xml", "from_xml", "load_xml", "load_xml_file", "schema", "to_xml"]

NS = "urn:changtong:exchange:document:1"
SCHEMA_PATH = Path(__file__).parent / "schema" / "document-1.xsd"
_Q = f"{{{NS}}}"


@dataclass(frozen=True, slots=True)
class XmlLimits:
    max_bytes: int = 8 * 1024 * 1024
    max_depth: int = 12  # the format needs 6: document/body/content/table/row/cell
    max_elements: int = 100_000
    max_text: int = 200_000  # characters in one element


@cache
def schema() -> etree.XMLSchema:
    """The exchange schema (read from the repository: trusted input)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


# ---------------------------------------------------------------- writing

def _sub(parent: etree._Element, name: str, text: str | None = None, **attrs: Any) -> etree._Element:
    el = etree.SubElement(parent, _Q + name, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _names(parent: etree._Element, name: str, item: str, values: list[str]) -> None:
    if values:
        group = _sub(parent, name)
        for v in values:
            _sub(group, item, v)


def to_xml(doc: Document) -> etree._Element:
    """The exchange tree of a document (not yet validated)."""
    root = etree.Element(_Q + "document", {"version": "1"}, nsmap={None: NS})
    head, body, footer = _sub(root, "head"), _sub(root, "body"), _sub(root, "footer")
    try:
        for name in ("kind", "direction", "copy_no"):
            if getattr(doc, name):
                _sub(head, name, getattr(doc, name))
        if doc.secrecy:
            _sub(head, "secrecy", doc.secrecy, level=doc.secrecy_level, term=doc.secrecy_term)
        for name in ("urgency", "issuer"):
            if getattr(doc, name):
                _sub(head, name, getattr(doc, name))
        if doc.number:
            n = doc.number
            _sub(head, "number", n.text, agency=n.agency or None, year=n.year, serial=n.serial)
        _names(head, "signer", "name", doc.signer)

        if doc.title:
            _sub(body, "title", doc.title)
        _names(body, "to", "unit", doc.to)
        if doc.body:
            content = _sub(body, "content")
            for block in doc.body:
                if isinstance(block, Paragraph):
                    _sub(content, "p", block.text, level=block.level)
                else:
                    table = _sub(content, "table")
                    for row in block.rows:
                        r = _sub(table, "row")
                        for cell in row:
                            _sub(r, "cell", cell)
        if doc.attachments:
            group = _sub(body, "attachments")
            for a in doc.attachments:
                _sub(group, "attachment", a.name, file=a.file)
        _names(body, "signed_by", "unit", doc.signed_by)
        if doc.date:
            _sub(body, "date", doc.date.text, iso=doc.date.iso.isoformat())
        if doc.note:
            _sub(body, "note", doc.note)

        _names(footer, "cc", "unit", doc.cc)
        if doc.printed_by:
            _sub(footer, "printed_by", doc.printed_by)
        if doc.printed_date:
            _sub(footer, "printed_date", doc.printed_date.text, iso=doc.printed_date.iso.isoformat())
    except ValueError as exc:  # lxml refuses control characters, which XML 1.0 cannot carry
        raise BadRequest("error.doc_xml_invalid", detail=str(exc)) from None
    if doc.missing:
        group = _sub(root, "missing")
        for name in doc.missing:
            _sub(group, "field", name)
    return root


def dump_xml(doc: Document) -> bytes:
    """UTF-8 exchange XML of `doc`, validated against the schema before it is returned."""
    root = to_xml(doc)
    _check_schema(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ---------------------------------------------------------------- reading

def load_xml_file(path: str | os.PathLike[str], limits: XmlLimits = XmlLimits()) -> Document:
    return load_xml(read_bounded(path, limits.max_bytes, "error.doc_xml_malformed"), limits)


def load_xml(data: bytes, limits: XmlLimits = XmlLimits()) -> Document:
    """A document from exchange XML: hardened parse, schema check, model check."""
    root = parse_hardened(data, limits)
    _check_schema(root)
    return from_xml(root)


def parse_hardened(data: bytes, limits: XmlLimits = XmlLimits()) -> etree._Element:
    if len(data) > limits.max_bytes:
        raise TooLarge("error.doc_too_large", what="file", size=len(data), limit=limits.max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("error.doc_xml_malformed", detail=f"not UTF-8 (byte {exc.start})") from None
    if "<!DOCTYPE" in text:
        raise BadRequest("error.doc_xml_forbidden", what="DTD (<!DOCTYPE>)")
    if "<!ENTITY" in text:
        raise BadRequest("error.doc_xml_forbidden", what="ENTITY (<!ENTITY>)")
    # Every element opens with "<" not followed by "/": an upper bound, counted in C.
    upper = text.count("<") - text.count("</")
    if upper > limits.max_elements:
        raise TooLarge("error.doc_too_large", what="elements", size=upper, limit=limits.max_elements)
    events = etree.iterparse(
        io.BytesIO(data), events=("start", "end"), resolve_entities=False, load_dtd=False, no_network=True,
        dtd_validation=False, huge_tree=False, remove_comments=True, remove_pis=True,
    )
    depth = count = 0
    try:
        for event, el in events:
            if event == "start":
                depth += 1
                count += 1
                if depth > limits.max_depth:
                    raise BadRequest("error.doc_xml_too_deep", limit=limits.max_depth)
                if count > limits.max_elements:
                    raise TooLarge("error.doc_too_large", what="elements", size=count, limit=limits.max_elements)
            else:
                depth -= 1
                for s in (el.text, el.tail):
                    if s is not None and len(s) > limits.max_text:
                        raise TooLarge("error.doc_too_large", what="text", size=len(s), limit=limits.max_text)
        root = events.root
    except etree.XMLSyntaxError as exc:
        # libxml2's own depth limit (256) lies far past ours: newer lxml reads bigger chunks
        # before it hands out events, so a deep nest can reach it before we count to ours.
        if "depth" in str(exc.msg).lower() and getattr(exc.error_log.last_error, "type_name", "") == "ERR_RESOURCE_LIMIT":
            raise BadRequest("error.doc_xml_too_deep", limit=limits.max_depth) from None
        raise BadRequest("error.doc_xml_malformed", detail=f"line {exc.lineno}: {exc.msg}"[:300]) from None
    if root is None:
        raise BadRequest("error.doc_xml_malformed", detail="empty")
    return root


def _check_schema(root: etree._Element) -> None:
    checker = schema()
    if not checker.validate(root):
        error = checker.error_log[0]
        raise BadRequest("error.doc_xml_invalid", detail=f"line {error.line}: {error.message}"[:300])


def _text(parent: etree._Element, name: str) -> str | None:
    el = parent.find(_Q + name)
    return el.text if el is not None else None


def _list(parent: etree._Element, name: str, item: str) -> list[str]:
    group = parent.find(_Q + name)
    return [] if group is None else [el.text or "" for el in group.iterfind(_Q + item)]


def from_xml(root: etree._Element) -> Document:
    """The document a schema-valid exchange tree holds."""
    head, body, footer = (root.find(_Q + part) for part in ("head", "body", "footer"))
    data: dict[str, Any] = {
        "kind": _text(head, "kind"), "direction": _text(head, "direction"), "copy_no": _text(head, "copy_no"),
        "secrecy": _text(head, "secrecy"), "urgency": _text(head, "urgency"), "issuer": _text(head, "issuer"),
        "signer": _list(head, "signer", "name"),
        "title": _text(body, "title"), "to": _list(body, "to", "unit"), "signed_by": _list(body, "signed_by", "unit"),
        "note": _text(body, "note"), "cc": _list(footer, "cc", "unit"), "printed_by": _text(footer, "printed_by"),
    }
    number = head.find(_Q + "number")
    if number is not None:
        year = number.get("year")
        data["number"] = {"text": number.text, "agency": number.get("agency", ""),
                          "year": int(year) if year else None, "serial": int(number.get("serial"))}
    for name, parent in (("date", body), ("printed_date", footer)):
        el = parent.find(_Q + name)
        if el is not None:
            data[name] = {"text": el.text, "iso": el.get("iso")}
    secrecy = head.find(_Q + "secrecy")
    if secrecy is not None and (secrecy.get("level"), secrecy.get("term")) != (
            (secrecy.text or "")[:2], (secrecy.text or "")[3:] or None):
        raise BadRequest("error.doc_xml_invalid", detail="secrecy: level/term attributes differ from the text")
    content = body.find(_Q + "content")
    blocks: list[dict[str, Any]] = []
    if content is not None:
        for el in content:
            if el.tag == _Q + "p":
                blocks.append({"type": "paragraph", "text": el.text or "", "level": int(el.get("level", "0"))})
            else:
                blocks.append({"type": "table", "rows": [[c.text or "" for c in row] for row in el]})
    data["body"] = blocks
    attachments = body.find(_Q + "attachments")
    if attachments is not None:
        data["attachments"] = [{"name": a.text, "file": a.get("file")} for a in attachments]
    missing = root.find(_Q + "missing")
    data["missing"] = [] if missing is None else [f.text for f in missing]
    return Document.from_json({k: v for k, v in data.items() if v is not None})
