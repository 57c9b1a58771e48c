"""`changtong doc render FILE --format docx|pdf -o OUT`: red-header printing (套头打印).

Added to `changtong doc` by exchange_bridge/doc_cli.py (`add_commands(actions)`, then
`run(args)` for the ``render`` action). FILE is a .docx, a model .json or an exchange
.xml (read as `doc export` reads it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hub.errors import BadRequest

ACTION = "render"


def add_commands(actions: Any) -> None:
    """Add ``render`` to the `doc` sub-command's actions."""
    ren = actions.add_parser(
        ACTION, help="lay a document out as a red-header file per GB/T 9704-2012 (Word or PDF)")
    ren.add_argument("file", help="a .docx, a model .json or an exchange .xml file")
    ren.add_argument("--format", choices=("docx", "pdf"), default=None,
                     help="docx (default) or pdf (through LibreOffice); default: from -o's suffix")
    ren.add_argument("-o", "--output", required=True, help="the file to write")
    ren.add_argument("--timeout", type=float, default=120.0, help="seconds LibreOffice may take (pdf)")


def run(args: argparse.Namespace, config: Any = None) -> int:
    from ..doc_cli import load
    from . import render_docx, render_pdf

    out = Path(args.output)
    fmt = args.format or ("pdf" if out.suffix.lower() == ".pdf" else "docx")
    doc = load(args.file)
    for field, label in (("issuer", "发文机关标志"), ("number", "发文字号"), ("title", "标题")):
        if not doc.has(field):
            print(f"注意 (note): 没有{label} ({field}), 该处留空", file=sys.stderr)
    data = render_pdf(doc, timeout=args.timeout) if fmt == "pdf" else render_docx(doc)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise BadRequest("error.render_cannot_write", path=str(out), detail=exc.strerror or str(exc)) from None
    print(f"已生成红头文件 (rendered): {out}", file=sys.stderr)
    return 0
