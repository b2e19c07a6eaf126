"""The parse query: a source's columns as the contract's canonical values, with the flags
the row rules read.

Written in DuckDB's SQL; :func:`parse_sql` with ``dialect="spark"`` writes the few
functions sqlglot cannot translate (timestamp formats, time zones, infinite timestamps) so
that the Spark engine's transpiler turns the query into Spark SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from churn.data.contract import (
    FALSE_WORDS,
    TRUE_WORDS,
    Choice,
    CsvOptions,
    LeftOut,
    Plausibility,
    SourceSpec,
    TableContract,
    ident,
    quote,
)
from churn.errors import ConfigError


def parse_sql(
    contract: TableContract,
    present: Mapping[str, str],
    source_types: Mapping[str, str],
    spec: SourceSpec,
    key: str,
    dialect: str = "duckdb",
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> tuple[str, list[str]]:
    """The query parsing the ``staged`` table, and the canonical columns it parses.

    Written in DuckDB's SQL; with ``dialect="spark"`` the few functions sqlglot cannot
    translate (timestamp formats, time zones, infinite timestamps) are written so that
    :func:`churn.engines.spark_engine.to_spark_sql` turns the query into Spark SQL. Besides each
    canonical value the result has ``<col>__present`` (the source had a non-blank value)
    and ``<col>__parsed`` (the value parsed); a timestamp has ``<col>__plausible`` (in
    the window of ``plausibility``), an identifier ``<col>__control`` (it has a control
    character). Text is trimmed of Unicode white space at both ends; nothing but white
    space is no value. A column with a :class:`~churn.data.contract.Choice` has its
    canonical value (a blank one its ``blank`` value), ``<col>__present`` and
    ``<col>__parsed`` (the value is one of the spellings, or blank with a ``blank``
    value), and its trimmed text as ``<col>__text``. ``_left_out`` says why a row is left
    out on purpose (see :class:`LeftOut`; NULL: the row is checked and kept or
    quarantined).
    """
    window = plausibility or Plausibility()
    # Inner select: values parsed from the source columns; outer: flags on those values.
    inner, outer = [f"{key} AS _row"], ["*"]
    for canonical, source in present.items():
        col, stype, kind = ident(source), source_types[source], contract.kinds[canonical]
        if canonical in contract.choices:
            # The trimmed text once, inside; the choice and its flags on it, outside.
            text = f"{canonical}__text"
            value = _choice_expr(text, contract.choices[canonical])
            inner.append(f"{_text_expr(col, dialect)} AS {text}")
            outer += [
                f"{value} AS {canonical}",
                f"{text} IS NOT NULL AS {canonical}__present",
                f"{value} IS NOT NULL AS {canonical}__parsed",
            ]
        elif kind == "string":
            inner.append(f"{_text_expr(col, dialect)} AS {canonical}")
            outer.append(f"{canonical} IS NOT NULL AS {canonical}__present")
            if canonical in contract.identifiers and dialect == "spark":
                outer.append(f"{_control_expr(canonical)} AS {canonical}__control")
            elif canonical in contract.identifiers:
                # The test _text_expr makes (DuckDB evaluates it once): a usual value has
                # no control character, the others are searched.
                inner.append(f"{_unusual_expr(col)} AS {canonical}__unusual")
                outer.append(
                    f"CASE WHEN {canonical}__unusual THEN {_control_expr(canonical)} "
                    f"ELSE false END AS {canonical}__control"
                )
        else:
            if kind == "number":
                parse = _number_expr(col, stype, spec.csv)
            elif kind == "timestamp":
                parse = _timestamp_expr(col, stype, spec, dialect)
            else:
                parse = _boolean_expr(col, stype)
            inner.append(f"{parse} AS {canonical}")
            inner.append(f"{_present_expr(col, stype)} AS {canonical}__present")
            outer.append(f"{canonical} IS NOT NULL AS {canonical}__parsed")
            if kind == "timestamp":
                # Spark has no infinite timestamps.
                finite = (
                    f"{canonical} IS NOT NULL"
                    if dialect == "spark"
                    else f"COALESCE(isfinite({canonical}), false)"
                )
                outer.append(f"{finite} AS {canonical}__finite")
                outer.append(f"{_window_expr(canonical, window)} AS {canonical}__plausible")
        if canonical == contract.unique:
            inner.append(
                f"row_number() OVER (PARTITION BY {_text_expr(col, dialect)} ORDER BY {key}) > 1 "
                f"AND {_text_expr(col, dialect)} IS NOT NULL AS {canonical}__repeat"
            )
    outer.append(f"{left_out.sql(present) if left_out else 'CAST(NULL AS VARCHAR)'} AS _left_out")
    parsed = list(present)
    if "amount" in contract.kinds and "amount" not in present and "unit_price" in present:
        outer += [
            "quantity * unit_price AS amount",
            "quantity__present AND unit_price__present AS amount__present",
            "quantity * unit_price IS NOT NULL AS amount__parsed",
        ]
        parsed.append("amount")
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM staged)", parsed


def _number_expr(col: str, source_type: str, options: CsvOptions) -> str:
    if source_type != "VARCHAR":
        return f"TRY_CAST({col} AS DOUBLE)"
    text = f"TRIM({col})"
    if options.thousands:
        text = f"REPLACE({text}, {quote(options.thousands)}, '')"
    if options.decimal != ".":
        text = f"REPLACE({text}, {quote(options.decimal)}, '.')"
    return f"TRY_CAST({text} AS DOUBLE)"


_AWARE_PATTERN = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+-]\d{2}(:?\d{2})?)$"


# strftime directive -> Java DateTimeFormatter letters (one letter where Java then accepts
# one or two digits, as DuckDB's strptime does).
_JAVA_DIRECTIVES = {
    "Y": "yyyy", "y": "yy", "m": "M", "d": "d", "H": "H", "I": "h", "M": "m", "S": "s",
    "f": "SSSSSS", "p": "a", "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "j": "D",
    "z": "XX", "Z": "z",
}  # fmt: skip


def java_time_format(strftime_format: str) -> str:
    """``data.date_format`` (strftime) as the Java pattern Spark parses with; literal text
    is quoted (``%Y-%m-%dT%H:%M`` -> ``yyyy-M-d'T'H:m``)."""
    out, literal, i = [], "", 0
    while i < len(strftime_format):
        char = strftime_format[i]
        if char == "%" and i + 1 < len(strftime_format):
            directive = strftime_format[i + 1]
            i += 2
            if directive == "%":
                literal += "%"
                continue
            if directive not in _JAVA_DIRECTIVES:
                raise ConfigError(
                    f"data.date_format={strftime_format!r}: %{directive} has no Spark "
                    "equivalent; use engine=duckdb or another format"
                )
            if literal:
                out.append("'" + literal.replace("'", "''") + "'")
                literal = ""
            letters = _JAVA_DIRECTIVES[directive]
            glued = strftime_format[i : i + 1] == "%" or (i >= 4 and strftime_format[i - 4] == "%")
            if glued and len(letters) == 1:  # "%Y%m%d": fixed widths, or Java cannot split
                letters *= 2
            out.append(letters)
        else:
            literal += char
            i += 1
    if literal:
        out.append("'" + literal.replace("'", "''") + "'")
    return "".join(out)


def _timestamp_expr(col: str, source_type: str, spec: SourceSpec, dialect: str = "duckdb") -> str:
    def localise(naive: str) -> str:
        if spec.timezone.upper() == "UTC":
            return naive
        if dialect == "spark":
            return f"to_utc_timestamp({naive}, {quote(spec.timezone)})"
        return f"CAST(timezone({quote(spec.timezone)}, {naive}) AS TIMESTAMP)"

    if source_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"CAST({col} AS TIMESTAMP)"
    if source_type == "DATE":
        # A calendar date is a day, not an instant: no time-zone shift.
        return f"CAST({col} AS TIMESTAMP)"
    if source_type.startswith("TIMESTAMP"):
        return localise(f"CAST({col} AS TIMESTAMP)")
    if source_type != "VARCHAR":
        return "CAST(NULL AS TIMESTAMP)"
    text = f"TRIM({col})"
    if spec.date_format:
        if dialect == "spark":
            fmt = quote(java_time_format(spec.date_format))
            return localise(f"CAST(try_to_timestamp({text}, {fmt}) AS TIMESTAMP)")
        return localise(f"try_strptime({text}, {quote(spec.date_format)})")
    return (
        f"CASE WHEN regexp_matches({text}, {quote(_AWARE_PATTERN)}) "
        f"THEN CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"WHEN regexp_matches({text}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}$') "
        f"THEN TRY_CAST({text} AS TIMESTAMP) "
        f"ELSE {localise(f'TRY_CAST({text} AS TIMESTAMP)')} END"
    )


# Unicode White_Space, in a regular expression both RE2 (DuckDB) and Java (Spark) read:
# tab to carriage return, next line, and the separators (no-break and ideographic space,
# line and paragraph separators...).
_WHITESPACE = r"[\t\n\x{0B}\f\r\x{85}\p{Z}]"
_TRIMMED = rf"(?s)^{_WHITESPACE}*(.*?){_WHITESPACE}*\z"
# Control characters (NUL, tab, escape, DEL...), left inside a value once it is trimmed.
_CONTROL = r"\p{Cc}"


# A value that starts or ends with white space: only those pay for the extraction, which
# costs about four times as much as this test (10M ids: 2.7 s against 0.6 s).
_PADDED = rf"^{_WHITESPACE}|{_WHITESPACE}$"
# DuckDB: a value of printable ASCII only (space to tilde) that neither starts nor ends
# with a space and is not empty is its own trimmed text and has no control character (all
# of White_Space and of the control characters lie outside '!'..'~', the space aside).
# GLOB and LIKE run once per distinct value of a dictionary-encoded column, where a
# regular expression runs once per row: the regular expressions are left for the other
# values (10M rows of 5 text columns: 3.3 s of regular expressions against 1.6 s).
_UNUSUAL = "({text} GLOB '*[! -~]*' OR {text} LIKE ' %' OR {text} LIKE '% ' OR {text} = '')"


def _unusual_expr(col: str) -> str:
    """DuckDB: true where the text of ``col`` may need trimming or have a control
    character (see ``_UNUSUAL``); NULL on NULL."""
    return _UNUSUAL.format(text=f"CAST({col} AS VARCHAR)")


def _text_expr(col: str, dialect: str = "duckdb") -> str:
    """A source column as text trimmed of white space at both ends; NULL when nothing
    is left."""
    text = f"CAST({col} AS VARCHAR)"
    trimmed = (
        f"NULLIF(CASE WHEN regexp_matches({text}, {quote(_PADDED)}) "
        f"THEN regexp_extract({text}, {quote(_TRIMMED)}, 1) ELSE {text} END, '')"
    )
    if dialect == "spark":
        return trimmed
    return f"CASE WHEN {_unusual_expr(col)} THEN {trimmed} ELSE {text} END"


def _control_expr(text: str) -> str:
    """True where the trimmed ``text`` has a control character (false on NULL)."""
    return f"COALESCE(regexp_matches({text}, {quote(_CONTROL)}), false)"


def _window_expr(column: str, window: Plausibility) -> str:
    """True where the timestamp ``column`` lies from ``valid_from`` through the end of
    ``valid_until``."""
    start = f"CAST({quote(window.valid_from.isoformat())} AS TIMESTAMP)"
    inside = f"{column} >= {start}"
    if window.valid_until is not None:
        end = window.valid_until + dt.timedelta(days=1)
        inside += f" AND {column} < CAST({quote(end.isoformat())} AS TIMESTAMP)"
    return f"COALESCE({inside}, false)"


def _choice_expr(text: str, choice: Choice) -> str:
    """The canonical value of the trimmed ``text`` (any case), the ``blank`` value where
    there is none, NULL where it matches no spelling."""
    blank = "CAST(NULL AS VARCHAR)" if choice.blank is None else quote(choice.blank)
    spelled = " ".join(
        f"WHEN {quote(spelling)} THEN {quote(value)}"
        for spelling, value in choice.spellings.items()
    )
    return f"CASE WHEN {text} IS NULL THEN {blank} ELSE CASE lower({text}) {spelled} END END"


def _present_expr(col: str, source_type: str) -> str:
    if source_type == "VARCHAR":
        return f"({col} IS NOT NULL AND TRIM({col}) <> '')"
    return f"({col} IS NOT NULL)"


def _boolean_expr(col: str, source_type: str) -> str:
    if source_type == "BOOLEAN":
        return col
    text = f"lower(TRIM(CAST({col} AS VARCHAR)))"
    true = ", ".join(quote(v) for v in TRUE_WORDS)
    false = ", ".join(quote(v) for v in FALSE_WORDS)
    return f"CASE WHEN {text} IN ({true}) THEN true WHEN {text} IN ({false}) THEN false END"
