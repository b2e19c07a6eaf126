"""Message catalogs: the words of the pages, reasons, themes, causes and actions per language.

A catalog is a gettext ``.po`` file under ``catalogs/<language>/``, one per domain
(``pages``: the HTML pages; ``lists``: what the at-risk list says about a customer). Message
ids are symbolic (``theme.returns.name``), and a message may name placeholders in braces
(``"No order for {days}"``) that :meth:`Messages.text` fills. Plural messages use gettext's
plural forms, so each language keeps its own plural rule.

English is the reference catalog: a message missing from another language falls back to
English, and :func:`missing_messages` lists what a catalog lacks. The languages available are
the folders present, so adding one is adding a folder of catalogs and nothing else.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from churn.errors import ConfigError

CATALOG_DIR = Path(__file__).parent / "catalogs"
DOMAINS = ("pages", "lists")
REFERENCE = "en"


def available_locales(catalog_dir: Path | None = None) -> tuple[str, ...]:
    """The languages with catalogs, sorted: every folder of ``catalogs/`` holding a
    ``.po`` file."""
    root = catalog_dir or CATALOG_DIR
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.po"))))


def check_locale(locale: str) -> str:
    """Return ``locale`` if a catalog exists for it, else raise :class:`ConfigError`."""
    known = available_locales()
    if locale not in known:
        raise ConfigError(
            f"locale must be one of {list(known)} (the folders of {CATALOG_DIR}), got {locale!r}"
        )
    return locale


def _translations(path: Path, locale: str) -> Translations:
    """A compiled catalog: read with Babel, compiled to gettext's binary form in memory."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def _ids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


class Messages:
    """The messages of one language (with English behind it for anything missing)."""

    def __init__(self, locale: str, catalog_dir: Path | None = None) -> None:
        root = catalog_dir or CATALOG_DIR
        self.locale = locale
        self._domains: dict[str, Translations] = {}
        for domain in DOMAINS:
            own = root / locale / f"{domain}.po"
            reference = _translations(root / REFERENCE / f"{domain}.po", REFERENCE)
            if locale == REFERENCE or not own.exists():
                self._domains[domain] = reference
                continue
            translations = _translations(own, locale)
            translations.add_fallback(reference)
            self._domains[domain] = translations

    def text(self, key: str, domain: str = "lists", **values: object) -> str:
        """The message ``key`` with its placeholders filled from ``values``.

        Raises :class:`KeyError` for a key no catalog has, so that a typo never reaches a
        marketer as a symbolic id.
        """
        message = self._domains[domain].gettext(key)
        if message == key:
            raise KeyError(f"no message {key!r} in the {domain} catalog")
        return message.format(**values) if values else message

    def plural(self, key: str, count: float, domain: str = "lists", **values: object) -> str:
        """The plural message ``key`` in the form ``count`` takes in this language."""
        n = int(round(abs(count))) if float(count).is_integer() else 2
        message = self._domains[domain].ngettext(key, key, n)
        if message == key:
            raise KeyError(f"no plural message {key!r} in the {domain} catalog")
        return message.format(**values) if values else message

    def has(self, key: str, domain: str = "lists") -> bool:
        """Whether any catalog (this language's or English) has ``key``."""
        return self._domains[domain].gettext(key) != key


@cache
def messages(locale: str) -> Messages:
    """The :class:`Messages` of ``locale`` from the shipped catalogs (loaded once)."""
    return Messages(check_locale(locale))


def missing_messages(locale: str, catalog_dir: Path | None = None) -> dict[str, list[str]]:
    """Per domain, the message ids English has and ``locale``'s catalog lacks."""
    root = catalog_dir or CATALOG_DIR
    missing = {}
    for domain in DOMAINS:
        own = root / locale / f"{domain}.po"
        have = _ids(own) if own.exists() else set()
        lacking = sorted(_ids(root / REFERENCE / f"{domain}.po") - have)
        if lacking:
            missing[domain] = lacking
    return missing
