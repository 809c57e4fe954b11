"""engage.lib.cached_settings: settings read once, read again when one changes."""

from __future__ import annotations

from django.test import override_settings

from engage.lib.cached_settings import setting


def test_a_setting_is_read_once_and_again_after_a_change(settings):
    settings.PARLEY_TEST_VALUE = "first"
    assert setting("PARLEY_TEST_VALUE") == "first"

    settings.PARLEY_TEST_VALUE = "second"  # the fixture sends setting_changed
    assert setting("PARLEY_TEST_VALUE") == "second"

    with override_settings(PARLEY_TEST_VALUE="third"):
        assert setting("PARLEY_TEST_VALUE") == "third"
    assert setting("PARLEY_TEST_VALUE") == "second"


def test_a_missing_setting_gives_the_default(settings):
    assert setting("PARLEY_NOT_A_SETTING", (200, 5.0)) == (200, 5.0)


def test_what_was_read_is_kept_until_a_setting_changes(settings, monkeypatch):
    settings.PARLEY_TEST_VALUE = "kept"
    assert setting("PARLEY_TEST_VALUE") == "kept"
    reads = []
    from django.conf import LazySettings

    original = LazySettings.__getattribute__

    def counted(self, name):  # type: ignore[no-untyped-def]
        if name == "PARLEY_TEST_VALUE":
            reads.append(name)
        return original(self, name)

    monkeypatch.setattr(LazySettings, "__getattribute__", counted)
    assert [setting("PARLEY_TEST_VALUE") for _ in range(3)] == ["kept"] * 3
    assert reads == []
    from django.conf import settings as django_settings

    assert django_settings.PARLEY_TEST_VALUE == "kept"  # the patch does count a direct read
    assert reads == ["PARLEY_TEST_VALUE"]
