"""Where the shared sample documents are, and how to read their expected fields.

They live in tests/exchange/samples (each `NAME.docx` with `NAME.expected.json`, and
the README that explains them); a missing directory fails loudly rather than skipping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# A copy of the project's shared samples (../shared/samples when this repository was
# made), kept with the tests so a clean clone anywhere runs them.
SAMPLES = Path(__file__).resolve().parent / "samples"


def sample_names() -> list[str]:
    if not SAMPLES.is_dir():
        raise RuntimeError(f"the shared samples are missing: expected them in {SAMPLES}")
    return sorted(p.name.removesuffix(".docx") for p in SAMPLES.glob("*.docx"))


def expected(samples: Path, name: str) -> dict[str, Any]:
    """A sample's expected fields, without the `_notes`; `_expect_missing` kept."""
    data = json.loads((samples / f"{name}.expected.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k != "_notes"}


def make_docx(path: Path, items: list[Any], header: list[str] = ()) -> Path:  # type: ignore[assignment]
    """Write a .docx with python-docx, as field documents are: plain paragraphs, unless an
    item says otherwise. An item is a str (a paragraph), a dict {text, align, size, red,
    style}, or a list of rows (a table)."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    aligns = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}
    word = docx.Document()
    for text in header:
        word.sections[0].header.add_paragraph(text)
    for item in items:
        if isinstance(item, list):
            table = word.add_table(rows=len(item), cols=max(len(r) for r in item))
            for r, row in enumerate(item):
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
            continue
        spec = {"text": item} if isinstance(item, str) else item
        p = word.add_paragraph(style=spec.get("style"))
        run = p.add_run(spec["text"])
        if "align" in spec:
            p.alignment = aligns[spec["align"]]
        if "size" in spec:
            run.font.size = Pt(spec["size"])
        if spec.get("red"):
            run.font.color.rgb = RGBColor(0xE6, 0x00, 0x12)
    word.save(str(path))
    return path


# A 通知 as field files come: no styles, no alignment, every field of GB/T 9704 present but 签发人.
UNSTYLED = [
    "000123",
    "机密★6个月",
    "加急",
    "东营市应急管理局文件",
    "东应急发〔2026〕7号",
    "",
    "东营市应急管理局",
    "关于开展2026年冬春火灾防控工作的通知",
    "",
    "各县区应急管理局，市直有关部门：",
    "　　为做好冬春火灾防控工作，现将有关事项通知如下。",
    "一、总体要求",
    "（一）压实责任",
    "1．落实属地责任",
    "（1）县区每周调度一次。",
    "二、工作措施",
    "附件：1．冬春火灾防控任务分工",
    "　　　2．重点场所名单",
    "",
    "东营市应急管理局",
    "二〇二六年十二月一日",
    "（此件依申请公开）",
    "抄送：市消防救援支队。",
    "东营市应急管理局办公室　　　　2026年12月1日印发",
]
