"""`changtong doc …`: official documents on the command line (see exchange_bridge/cli.py).

    changtong doc import FILE.docx [--json]              Word → the document model
    changtong doc export FILE [--format xml] [-o OUT]    .docx / .json / .xml → exchange XML (or JSON)
    changtong doc validate FILE.xml                      check an exchange XML file
    changtong doc render FILE --format docx|pdf -o OUT   red-header file per GB/T 9704 (render/cli.py)

Errors are `HubError`s: hub/cli.py prints the translated message and the code and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hub.errors import BadRequest, NotFound

from .model import FIELD_LABELS, Document

COMMANDS: frozenset[str] = frozenset({"doc"})


def add_commands(sub: Any) -> None:
    doc = sub.add_parser("doc", help="official documents (公文): import, export, validate")
    actions = doc.add_subparsers(dest="action", required=True)

    imp = actions.add_parser("import", help="read a Word (.docx) file into the document model")
    imp.add_argument("file", help="the .docx file")
    imp.add_argument("--json", action="store_true", help="print the model as JSON")

    exp = actions.add_parser("export", help="write a document (.docx, model .json or .xml) as exchange XML")
    exp.add_argument("file", help="a .docx, a model .json or an exchange .xml file")
    exp.add_argument("--format", choices=("xml", "json"), default="xml")
    exp.add_argument("-o", "--output", help="write here instead of standard output")

    val = actions.add_parser("validate", help="check an exchange XML file against the schema")
    val.add_argument("file", help="the .xml file")

    from .render import cli as render_cli  # `doc render` (套头打印): exchange_bridge/render/cli.py

    render_cli.add_commands(actions)


def run(args: argparse.Namespace, config: Any) -> int:
    if args.action == "import":
        doc = load(args.file)
        from_word = Path(args.file).suffix.lower() == ".docx"
        print(doc.dumps() if args.json else summary(doc, inferred=("direction",) if from_word else ()))
        return 0
    if args.action == "export":
        from .xml_codec import dump_xml

        doc = load(args.file)
        data = dump_xml(doc) if args.format == "xml" else (doc.dumps() + "\n").encode()
        if args.output:
            Path(args.output).write_bytes(data)
            print(f"已导出 (exported): {args.output}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return 0
    if args.action == "render":
        from .render import cli as render_cli

        return render_cli.run(args, config)
    if args.action == "validate":
        from .xml_codec import load_xml_file

        doc = load_xml_file(args.file)
        print(f"有效的公文交换文件 (valid): {args.file}")
        print(summary(doc))
        return 0
    raise AssertionError(args.action)


def load(path: str) -> Document:
    """A document from a .docx, a model .json or an exchange .xml file (by its suffix)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".docx":
        from .docx_import import import_docx

        return import_docx(path)
    if suffix == ".xml":
        from .xml_codec import load_xml_file

        return load_xml_file(path)
    if suffix == ".json":
        try:
            with open(path, "rb") as f:
                data = f.read(4 * 1024 * 1024 + 1)
        except FileNotFoundError:
            raise NotFound("error.doc_file_not_found", path=path) from None
        return Document.from_json(data)
    raise BadRequest("error.doc_not_docx", detail=f"{path}: expected .docx, .json or .xml")


def summary(doc: Document, inferred: tuple[str, ...] = ()) -> str:
    """A readable Chinese summary: every field found, then the ones not found. Fields in
    `inferred` were not printed but derived (行文方向 from the kind and unit levels)."""
    lines = []
    for name, label in FIELD_LABELS.items():
        if not doc.has(name):
            continue
        value = getattr(doc, name)
        if name == "body":
            paragraphs = sum(1 for b in value if b.type == "paragraph")
            tables = len(value) - paragraphs
            text = f"{paragraphs} 段" + (f"，{tables} 个表格" if tables else "")
        elif name == "attachments":
            text = "；".join(f"{i}．{a.name}" for i, a in enumerate(value, 1))
        elif name in ("number", "date", "printed_date"):
            text = value.text + (f"（{value.iso.isoformat()}）" if name != "number" else "")
        elif isinstance(value, list):
            text = "、".join(value)
        else:
            text = str(value).replace("\n", " / ")
        if name in inferred:
            text += "（未印于文中，由文种和机关层级推断）"
        lines.append(f"{label}：{text}")
    if doc.missing:
        lines.append("未识别的字段：" + "、".join(FIELD_LABELS[f] for f in doc.missing))
    else:
        lines.append("未识别的字段：无")
    return "\n".join(lines)
