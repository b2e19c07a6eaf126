"""Figures as the pages write them: shares, counts, money, dates, differences in points and
95% intervals, in the page's language, with a dash for a figure that cannot be computed.

A difference carries its sign (a true minus, U+2212, for a loss; a plus for a gain; none when
it rounds to zero, never ``-0``), glued to its number by a word joiner so that a narrow
column never breaks the two apart. The words around the numbers (``points``, ``to``) are
the ``pages`` messages ``outcomes.points``, ``outcomes.points_range`` and ``outcomes.range``.
"""

from __future__ import annotations

from churn.reporting.templating import Words
from churn.text.formatting import Formatter, is_missing

NO_VALUE = "–"
MINUS = "\u2212"
WORD_JOINER = "\u2060"


class Figures:
    """Numbers as the page writes them, a dash for a missing one."""

    def __init__(self, w: Words, fmt: Formatter) -> None:
        self.w, self.fmt = w, fmt

    def rate(self, share: float | None) -> str:
        return NO_VALUE if is_missing(share) else self.fmt.percent(share, 1)

    def count(self, value: float | None) -> str:
        return NO_VALUE if is_missing(value) else self.fmt.integer(value)

    def score(self, value: float | None) -> str:
        return NO_VALUE if is_missing(value) else self.fmt.number(value, 2)

    def number(self, value: float | None, decimals: int) -> str:
        return NO_VALUE if is_missing(value) else self.fmt.number(value, decimals)

    def money(self, value: float | None) -> str:
        return NO_VALUE if is_missing(value) else self.fmt.money(value)

    def date(self, day: str | None) -> str:
        return NO_VALUE if not day else self.fmt.date(day)

    def points(self, share: float | None) -> str:
        """A gap between two rates in percentage points (``3.0 points``)."""
        if is_missing(share):
            return NO_VALUE
        return self.w.plain("outcomes.points", value=self.fmt.number(100 * share, 1))

    @staticmethod
    def _signed(text: str, value: float) -> str:
        """``text`` with a plus sign for a gain or a minus sign (U+2212) for a loss, and no
        sign when it rounded to zero (never ``-0``); a word joiner keeps the sign on the
        line of its number (a browser may break after a sign before a currency symbol)."""
        bare = text.removeprefix("-")
        if not any(c in "123456789" for c in bare):
            return bare
        if text.startswith("-"):
            return MINUS + WORD_JOINER + bare
        if value > 0:
            return "+" + WORD_JOINER + text
        return text

    def signed_points(self, share: float | None) -> str:
        if is_missing(share):
            return NO_VALUE
        number = self._signed(self.fmt.number(100 * share, 1), share)
        return self.w.plain("outcomes.points", value=number)

    def signed_number(self, value: float | None, decimals: int) -> str:
        if is_missing(value):
            return NO_VALUE
        return self._signed(self.fmt.number(value, decimals), value)

    def signed_money(self, value: float | None) -> str:
        return NO_VALUE if is_missing(value) else self._signed(self.fmt.money(value), value)

    def signed_count(self, value: float | None) -> str:
        return NO_VALUE if is_missing(value) else self._signed(self.fmt.integer(value), value)

    def interval(
        self, low: float | None, high: float | None, kind: str = "rate", decimals: int = 2
    ) -> str:
        """A 95% interval (``41.0% to 45.0%``); ``kind`` is ``rate``, ``points`` (a
        difference of rates), ``money``, ``count`` or ``number`` (a signed difference of
        scores, with ``decimals`` decimals)."""
        if is_missing(low) or is_missing(high):
            return NO_VALUE
        if kind == "points":
            return self.w.plain(
                "outcomes.points_range",
                low=self._signed(self.fmt.number(100 * low, 1), low),
                high=self._signed(self.fmt.number(100 * high, 1), high),
            )
        write = {
            "rate": self.rate,
            "money": self.signed_money,
            "count": self.signed_count,
            "number": lambda value: self.signed_number(value, decimals),
        }[kind]
        return self.w.plain("outcomes.range", low=write(low), high=write(high))
