"""Fixtures for the document model, Word import and XML codec tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from doc_samples import SAMPLES


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of the shared samples directory (fails if it is missing)."""
    if not SAMPLES.is_dir():
        pytest.fail(f"the shared samples are missing: expected them in {SAMPLES}")
    target = tmp_path / "samples"
    shutil.copytree(SAMPLES, target)
    target.chmod(0o755)
    for f in target.iterdir():
        f.chmod(0o644)
    return target
