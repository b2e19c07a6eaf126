"""The text layer: message catalogs and Babel formatting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from churn.errors import ConfigError
from churn.text import messages as catalogs
from churn.text.formatting import Formatter
from churn.text.messages import Messages, available_locales, check_locale, missing_messages


def test_shipped_languages_are_the_catalog_folders():
    assert available_locales() == ("en", "it")


def test_an_unknown_language_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match=r"\['en', 'it'\]"):
        check_locale("xx")


def test_every_shipped_catalog_has_every_english_message():
    for locale in available_locales():
        assert missing_messages(locale) == {}, locale


def test_plural_forms_follow_the_count():
    italian = Messages("it")
    assert italian.plural("unit.days", 1, n="1") == "1 giorno"
    assert italian.plural("unit.days", 84, n="84") == "84 giorni"


def test_an_unknown_message_id_raises_rather_than_showing_the_id():
    with pytest.raises(KeyError, match="theme.nonexistent"):
        Messages("en").text("theme.nonexistent")


def test_a_new_language_is_a_folder_of_catalogs(tmp_path: Path, monkeypatch):
    root = tmp_path / "catalogs"
    shutil.copytree(catalogs.CATALOG_DIR, root)
    (root / "fr").mkdir()
    (root / "fr" / "lists.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: fr\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
        'msgid "theme.returns"\nmsgstr "retours"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(catalogs, "CATALOG_DIR", root)
    assert check_locale("fr") == "fr"
    french = Messages("fr")
    assert french.text("theme.returns") == "retours"
    # What the French catalog lacks falls back to English, and is listed.
    assert french.text("theme.price") == "price sensitivity"
    assert "theme.price" in missing_messages("fr")["lists"]


def test_money_from_100_upwards_is_whole_units_and_cents_below():
    english = Formatter("en", "GBP")
    assert english.money(123456.7) == "£123,457"
    assert english.money(-24.2) == "-£24.20"
    assert Formatter("it", "EUR").money(1234.5) == "1.234\xa0€"


def test_money_that_rounds_to_zero_has_no_minus_sign():
    assert Formatter("en", "EUR").money(-0.001) == "€0.00"


def test_a_share_that_is_not_0_or_1_never_reads_0_or_100_percent():
    english = Formatter("en")
    assert english.percent(0.0004) == "<1%"
    assert english.percent(0.9996) == ">99%"
    assert english.percent(0.125, 1) == "12.5%"
    assert Formatter("it").percent(0.125, 1) == "12,5%"


def test_dates_in_words_per_language():
    assert Formatter("it").date("2011-12-09") == "9 dicembre 2011"


def test_languages_with_a_decimal_comma_are_known():
    assert Formatter("it").decimal_comma()
    assert not Formatter("en").decimal_comma()


def test_weekday_names_per_language():
    assert Formatter("en").weekday(1) == "Monday"
    assert Formatter("it").weekday(7) == "domenica"
