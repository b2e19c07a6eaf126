"""Rendering the marketers' pages from the Jinja2 templates of ``reporting/templates/``.

Every page extends ``base.html.j2``, which inlines the one stylesheet ``style.css``, so a page
stays a single self-contained file (no JavaScript, no external URLs). Autoescape is on and
undefined names fail, so a missing value is an error rather than an empty cell.

The templates get, besides the page's own values:

- ``t(key, **values)``: the ``pages`` message ``key`` of the page's language, with its
  placeholders filled. The message and every plain value are HTML-escaped; a value that is
  already :class:`~markupsafe.Markup` (``b(...)``: bold) is kept, so markup stays in the
  templates and out of the catalogs.
- ``name(kind, key)``: the ``lists`` message ``<kind>.<key>`` (a segment, tier, theme, cause
  or action), or the key itself when the catalog has none.
- ``fmt``: a :class:`~churn.text.formatting.Formatter` for numbers, money, shares and dates.
- ``charts``: :mod:`churn.reporting.charts`, whose functions return escaped SVG as Markup.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from churn.reporting import charts
from churn.text.formatting import Formatter
from churn.text.messages import Messages, available_locales, messages


@cache
def environment() -> Environment:
    """The templates' environment (autoescaped, strict about undefined names)."""
    return Environment(
        loader=PackageLoader("churn.reporting", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def check_page_locale(locale: str) -> str:
    """``locale`` if a catalog folder exists for it, else :class:`ValueError`."""
    known = available_locales()
    if locale not in known:
        raise ValueError(f"locale must be one of {list(known)}, got {locale!r}")
    return locale


class Words:
    """The template helpers ``t``, ``name`` and ``b`` for one language."""

    def __init__(self, catalog: Messages) -> None:
        self.catalog = catalog

    def t(self, key: str, **values: object) -> Markup:
        message = self.catalog.text(key, domain="pages")
        return Markup(escape(message)).format(**values) if values else escape(message)

    def plain(self, key: str, **values: object) -> str:
        """The message as plain text, for chart labels (the chart code escapes them)."""
        message = self.catalog.text(key, domain="pages")
        return message.format(**values) if values else message

    def name(self, kind: str, key: object) -> str:
        full = f"{kind}.{key}"
        return self.catalog.text(full) if self.catalog.has(full) else str(key)

    @staticmethod
    def b(value: object) -> Markup:
        return Markup("<b>{}</b>").format(value)


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def render(template: str, locale: str, currency: str, **context: Any) -> str:
    """Render ``template`` in ``locale`` with the helpers above and ``context``."""
    words = Words(messages(check_page_locale(locale)))
    return (
        environment()
        .get_template(template)
        .render(
            locale=locale,
            t=words.t,
            name=words.name,
            b=words.b,
            fmt=Formatter(locale, currency),
            charts=charts,
            capitalise=capitalise,
            **context,
        )
    )


def words(locale: str) -> Words:
    """The :class:`Words` of ``locale``, for view code that prepares chart labels."""
    return Words(messages(check_page_locale(locale)))
