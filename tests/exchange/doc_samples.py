"""Where the shared sample documents are, and how to read their expected fields.

They live beside the repository, in `<repo>/../shared/samples` (each `NAME.docx` with
`NAME.expected.json`); a missing directory fails loudly rather than skipping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "samples"


def sample_names() -> list[str]:
    if not SAMPLES.is_dir():
        raise RuntimeError(f"the shared samples are missing: expected them in {SAMPLES}")
    return sorted(p.name.removesuffix(".docx") for p in SAMPLES.glob("*.docx"))


def expected(samples: Path, name: str) -> dict[str, Any]:
    """A sample's expected fields, without the `_notes`; `_expect_missing` kept."""
    data = json.loads((samples / f"{name}.expected.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k != "_notes"}
