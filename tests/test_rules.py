"""Pure rules, no server: mentions, pinyin keys, rate limits, i18n catalogs."""

from __future__ import annotations

import re
from pathlib import Path

from hub.i18n import negotiate, translate
from hub.pinyin import search_keys
from hub.ratelimit import FailureWindow, TokenBucket
from rooms.rules import mentioned_usernames

ROOT = Path(__file__).resolve().parent.parent


def test_mentions_are_parsed_once_in_order():
    assert mentioned_usernames("@bob 和 @alice.w，再请 @bob 看看") == ["bob", "alice.w"]
    assert mentioned_usernames("邮件 a@b.com 不是提及") == []
    assert mentioned_usernames("@x") == []  # too short for a username


def test_pinyin_keys():
    assert search_keys("张三") == ("zhangsan", "zs")
    assert search_keys("东营市教育局")[1] == "dysjyj"


def test_failure_window_blocks_then_forgets():
    w = FailureWindow(limit=2, window=10)
    w.fail("k", at=0)
    assert not w.blocked("k", at=1)
    w.fail("k", at=1)
    assert w.blocked("k", at=2)
    assert not w.blocked("k", at=11.5)


def test_token_bucket_refills():
    b = TokenBucket(rate=1, burst=2, stamp=0)
    assert b.take(at=0) and b.take(at=0) and not b.take(at=0)
    assert b.take(at=1.0)


def test_locale_negotiation_and_fallback():
    assert negotiate(None) == "zh_CN"
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("zh-TW") == "zh_CN"
    assert translate("error.bad_credentials") == "用户名或密码错误"
    assert translate("error.bad_credentials", "en") == "Wrong username or password"


def test_every_error_key_is_translated_in_both_catalogs():
    keys = set()
    for path in [*ROOT.glob("hub/**/*.py"), *ROOT.glob("rooms/**/*.py")]:
        keys |= set(re.findall(r'"(error\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    assert keys
    for key in sorted(keys):
        assert translate(key, "zh_CN") != key, f"{key} missing in zh_CN"
        assert translate(key, "en") != key, f"{key} missing in en"


def test_settings_reference_is_current():
    from hub.config import settings_reference

    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == settings_reference(), (
        "docs/settings.md is stale: regenerate it (see its last line)"
    )


def test_database_and_redis_passwords_never_show_in_the_settings():
    from hub.config import Config

    c = Config(database_url="postgresql+asyncpg://hub:s3cret-pw@db/changtong", redis_url="redis://:s3cret-pw@cache:6379/0")
    assert "s3cret-pw" not in repr(c) and "s3cret-pw" not in str(c.model_dump())
    assert c.effective_database_url == "postgresql+asyncpg://hub:s3cret-pw@db/changtong"
    assert c.redis == "redis://:s3cret-pw@cache:6379/0"
    assert Config().redis == "" and Config().effective_database_url.startswith("sqlite+aiosqlite:///")


def test_a_features_settings_are_a_section_in_toml_and_the_environment(tmp_path, monkeypatch):
    from hub.config import Config

    (tmp_path / "changtong.toml").write_text('port = 9000\n\n[exchange]\nport = 8443\nhost = "10.0.0.5"\n\n[bots]\ncommand_timeout_seconds = 2\n')
    monkeypatch.setenv("CHANGTONG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHANGTONG_EXCHANGE__POLL_SECONDS", "0.5")
    c = Config()
    assert (c.port, c.exchange.port, c.exchange.host, c.exchange.poll_seconds, c.bots.command_timeout_seconds) == (9000, 8443, "10.0.0.5", 0.5, 2)
    (tmp_path / "changtong.toml").write_text("[exchange]\nprot = 8443\n")  # a typo is refused, not ignored
    import pytest

    with pytest.raises(ValueError):
        Config()


def test_a_sections_setting_under_its_old_flat_name_is_refused_with_the_new_one(monkeypatch):
    import pytest

    from hub.config import load_config

    monkeypatch.setenv("CHANGTONG_EXCHANGE_PORT", "8443")
    with pytest.raises(ValueError, match="CHANGTONG_EXCHANGE__PORT"):
        load_config()
