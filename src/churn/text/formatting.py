"""Numbers, money, shares and dates written the way each language writes them, with Babel.

Babel carries the Unicode CLDR data itself, so the same value is written the same way on
every machine, whatever locales its C library has (``setlocale`` would change the whole
process and depend on the machine). ``Formatter("it", "EUR").money(1234.5)`` gives
``"1.234,50 €"`` (with a no-break space); ``Formatter("en", "GBP").money(1234.5)`` gives
``"£1,234.50"``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from babel import Locale
from babel.dates import format_date, get_day_names
from babel.numbers import format_currency, format_decimal, format_percent


@dataclass(frozen=True)
class Formatter:
    """Formats values for one language and currency.

    Attributes
    ----------
    locale : str
        A language with a catalog (``en``, ``it``, ...), as Babel knows it.
    currency : str
        ISO 4217 code of the shop's currency.
    """

    locale: str
    currency: str = "EUR"

    def number(self, value: float, decimals: int = 0) -> str:
        """``value`` rounded to ``decimals`` decimals, with the language's separators."""
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return format_decimal(round(float(value), decimals), format=pattern, locale=self.locale)

    def short(self, value: float) -> str:
        """A number with at most one decimal, none when whole after rounding."""
        rounded = round(float(value), 1)
        return self.number(rounded, 0 if rounded.is_integer() else 1)

    def integer(self, value: float) -> str:
        """A whole number with thousands separators."""
        return self.number(value, 0)

    def money(self, value: float, whole: bool | None = None) -> str:
        """An amount with the currency symbol where the language puts it.

        ``whole`` rounds to whole units (``€1,235``); the default does so from 100 upwards,
        where the cents are noise, and keeps the cents below (``€24.20``).
        """
        value = float(value)
        whole = abs(value) >= 100 if whole is None else whole
        if round(abs(value), 0 if whole else 2) == 0:
            value = 0.0  # never "-€0"
        pattern = Locale.parse(self.locale).currency_formats["standard"].pattern
        if whole:
            pattern = pattern.replace(".00", "")
            value = float(round(value))
        return format_currency(
            value, self.currency, format=pattern, locale=self.locale, currency_digits=False
        )

    def percent(self, share: float, decimals: int = 0) -> str:
        """A share of 0..1 as a percentage. A share that is not exactly 0 or 1 never reads
        as ``0%`` or ``100%``: it reads ``<1%`` / ``>99%`` (at the decimals chosen)."""
        share = float(share)
        step = 10.0**-decimals / 100
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "") + "%"
        if 0 < share < step:
            return "<" + format_percent(step, format=pattern, locale=self.locale)
        if 1 - step < share < 1:
            return ">" + format_percent(1 - step, format=pattern, locale=self.locale)
        return format_percent(share, format=pattern, locale=self.locale)

    def date(self, day: dt.date | str, length: str = "long") -> str:
        """A date in words (``9 December 2011``, ``9 dicembre 2011``)."""
        if isinstance(day, str):
            day = dt.date.fromisoformat(day[:10])
        return format_date(day, format=length, locale=self.locale)

    def weekday(self, iso_weekday: int) -> str:
        """The name of an ISO weekday (1 = Monday .. 7 = Sunday): ``Monday``, ``lunedì``."""
        return str(get_day_names("wide", locale=self.locale)[int(iso_weekday) - 1])

    def decimal_comma(self) -> bool:
        """Whether the language writes decimals with a comma (its CSV then uses ``;``)."""
        return Locale.parse(self.locale).number_symbols["latn"]["decimal"] == ","


def is_missing(value: object) -> bool:
    """Whether a value is absent (``None`` or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))
