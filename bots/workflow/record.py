"""办理单: an instance as a Word sheet (python-docx) — its head, its form and its 流转记录
(步骤 · 办理人 · 办理 · 意见 · 时间), with the result of the hash chain's check — to print,
file or attach. Pure: the instance as `service.view` shows it in, the .docx bytes out.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from hub.i18n import translate as t

from ..clock import OFFICE_TZ
from .service import shown_fields

__all__ = ["record_docx"]

FONT = "宋体"


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _font(doc: Any) -> None:
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)  # the CJK font is its own attribute


def _table(doc: Any, header: list[str], rows: list[list[str]], widths_cm: list[float]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.autofit = False
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    for row in table.rows:  # Word reads a cell's width, LibreOffice the column's
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)
    for column, width in zip(table.columns, widths_cm, strict=True):
        column.width = Cm(width)


def record_docx(view: dict[str, Any], chain: dict[str, Any]) -> bytes:
    doc = Document()
    _font(doc)
    heading = doc.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(t("flow.record.heading", flow=view["flow_name"]))
    run.bold, run.font.size = True, Pt(18)
    doc.add_paragraph(t("flow.record.title", title=view["title"]))
    doc.add_paragraph(t("flow.record.head", initiator=view.get("initiator_name", ""), status=t(f"flow.status.{view['status']}"), id=view["id"]))
    fields = [[k, v] for k, v in shown_fields(view["form"], view.get("fields"))]
    if fields:
        doc.add_paragraph(style="Heading 2").add_run(t("flow.record.form"))
        _table(doc, [t("flow.record.field"), t("flow.record.value")], fields, [4, 12])
    doc.add_paragraph(style="Heading 2").add_run(t("flow.record.trail"))
    rows = []
    for step in view["trail"]:
        operation = t(f"flow.op.{step['operation']}")
        if step["operation"] == "number" and step.get("target"):
            operation = f"{operation} {step['target']}"
        who = step.get("user_name") or t("flow.record.system")
        if step.get("proxy_for_name"):
            who = t("flow.card.proxy", name=who, of=step["proxy_for_name"])
        rows.append([step.get("node_name") or step["node"], who, operation, step.get("opinion", ""), _when(step["at"])])
    _table(doc, [t("flow.record.step"), t("flow.record.handler"), t("flow.record.operation"), t("flow.record.opinion"), t("flow.record.at")], rows, [2.6, 2.2, 3.4, 5.0, 2.8])
    verdict = t("flow.record.intact", steps=chain["steps"]) if chain["ok"] else t("flow.record.broken", at=chain["broken_at"] or 0)
    doc.add_paragraph(verdict)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
