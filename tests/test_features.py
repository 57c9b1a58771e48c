"""The seams: the kernel knows features only through hub/features.py's list."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from hub.features import FEATURES

ROOT = Path(__file__).resolve().parents[1]
FEATURE_PACKAGES = {"rooms", "exchange_bridge", "bots", "media", "search"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_kernel_module_but_the_root_imports_a_feature_package():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & FEATURE_PACKAGES)
        for p in (ROOT / "hub").rglob("*.py")
        if p.name != "features.py" or p.parent != ROOT / "hub"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_feature_package_is_listed_once_with_what_it_brings():
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    for feature in FEATURES:
        for module in feature.tables:
            __import__(module)
        if feature.migrations:
            assert any(feature.migrations.glob("*.py")), feature.migrations


def test_a_features_descriptor_imports_nothing_heavy():
    """`changtong --help` must answer at once: the feature list costs no aiohttp,
    SQLAlchemy or feature code."""
    code = "import sys, hub.features; print(sorted(m for m in sys.modules if m.split('.')[0] in {'aiohttp','sqlalchemy','pydantic','rooms','exchange_bridge','bots'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == str(sorted(["bots", "bots.feature", "rooms", "rooms.feature", "exchange_bridge", "exchange_bridge.feature"]))


def test_help_lists_every_feature_command_and_a_features_help_is_its_own():
    run = lambda *a: subprocess.run([sys.executable, "-m", "hub.cli", *a], capture_output=True, text=True, cwd=ROOT)
    top = run("--help")
    assert top.returncode == 0
    for feature in FEATURES:
        for name in feature.commands:
            assert name in top.stdout
    doc = run("doc", "--help")
    assert doc.returncode == 0 and "import" in doc.stdout and "render" in doc.stdout
