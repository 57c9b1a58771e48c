"""Server-side strings through gettext catalogs (.po files read with Babel).

Chinese first: zh-CN is the default locale; `en` is available. Keys are stable ids
(``error.unauthorized``); the catalogs hold the words. A missing translation falls
back to zh-CN, then to the key itself, so a forgotten entry shows up as a key in tests.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

__all__ = ["DEFAULT_LOCALE", "LOCALES", "negotiate", "translate"]

DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")
_DIR = Path(__file__).parent / "locale"


@cache
def _catalog(locale: str) -> dict[str, str]:
    with open(_DIR / locale / "LC_MESSAGES" / "changtong.po", "rb") as f:
        catalog = read_po(f, locale=locale)
    return {m.id: m.string for m in catalog if m.id and m.string}


def negotiate(header: str | None) -> str:
    """Pick a locale from an Accept-Language header or a plain tag ('en', 'zh-CN')."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower().replace("-", "_")
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def translate(key: str, locale: str = DEFAULT_LOCALE, **params: Any) -> str:
    text = _catalog(locale if locale in LOCALES else DEFAULT_LOCALE).get(key) or _catalog(DEFAULT_LOCALE).get(key) or key
    try:
        return text.format(**params) if params else text
    except (KeyError, IndexError, ValueError):
        return text
