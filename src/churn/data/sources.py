"""Reading a source: where its files are, their headers and their text encoding.

Engine-free helpers the engines' readers share (:mod:`churn.engines`): which paths are CSV,
the checks on a CSV header, the names of a header-less file's columns, and the copy of a
file in an encoding DuckDB does not read as UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import shutil
from collections.abc import Sequence
from pathlib import Path

from churn.data.contract import CsvOptions, SourceSpec
from churn.errors import DataContractError


def is_csv(path: str) -> bool:
    lower = path.lower()
    return lower.endswith((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz"))


def source_path(spec: SourceSpec) -> str:
    """The file, folder or glob to read; :class:`DataContractError` when a local path has
    nothing there (a URI such as ``s3a://`` or ``dbfs:/`` is left to the reader)."""
    path = str(spec.transactions)
    remote = "://" in path or path.startswith("dbfs:")
    has_glob = any(ch in path for ch in "*?[")
    if not remote and not has_glob and not Path(path).exists():
        raise DataContractError(f"{path}: no such file or folder")
    return path


def first_line(exc: Exception) -> str:
    """An error's first line: DuckDB's messages go on with many lines of hints."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def transcode_to_utf8(source: str, target: Path, encoding: str) -> None:
    """Copy the text file ``source`` (gzip-compressed when it ends in ``.gz``) to ``target``
    as UTF-8, a megabyte at a time.

    For ``cp1252``, the five bytes windows-1252 leaves undefined become the control
    characters of the same number, as browsers read them (WHATWG), rather than stopping
    the run: in an identifier, the control-character rule quarantines the row.
    """
    opener = gzip.open if source.lower().endswith(".gz") else open
    with opener(source, "rb") as raw, target.open("w", encoding="utf-8", newline="") as out:
        if encoding == "cp1252":
            text = codecs.getreader("latin-1")(raw)
            while chunk := text.read(1 << 20):
                out.write(chunk.translate(_CP1252_FROM_LATIN1))
        else:
            shutil.copyfileobj(codecs.getreader(encoding)(raw), out, 1 << 20)


# Read as latin-1, a byte 0x80-0x9F is the control character of its number; windows-1252
# has letters there, all but five (undefined, left as they are).
_CP1252_FROM_LATIN1 = {
    b: bytes([b]).decode("cp1252")
    for b in range(0x80, 0xA0)
    if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


def check_header(name: str, names: Sequence[str]) -> None:
    """A header naming a column twice (in any case) is a contract violation: DuckDB and
    Spark would rename the repeat (``amount_1``, ``amount3``) and the mapping would
    silently read one of the two columns."""
    seen: dict[str, list[str]] = {}
    for column in names:
        seen.setdefault(column.lower(), []).append(column)
    repeated = [group for group in seen.values() if len(group) > 1]
    if repeated:
        listed = "; ".join(" and ".join(repr(c) for c in group) for group in repeated)
        raise DataContractError(
            f"{name}: the header names a column more than once ({listed}; rule: each column "
            "is named once, case aside, or a reader renames the repeats and one of them is "
            "silently lost). Rename the repeated columns in the export, or read the file "
            "with data.csv.header=false and map data.columns.* to column0, column1, ..."
        )


def header_less_names(width: int) -> list[str]:
    """DuckDB's names for the columns of a CSV read without a header: column0, ...; with
    ten or more, zero-padded (column00, ...)."""
    digits = len(str(width - 1))
    return [f"column{i:0{digits}d}" for i in range(width)]


def split_header(line: str, options: CsvOptions) -> list[str]:
    """The fields of a CSV header line, in the file's dialect."""
    if len(options.delimiter) != 1 or len(options.quote) != 1:
        return line.split(options.delimiter)
    return next(csv.reader([line], delimiter=options.delimiter, quotechar=options.quote), [])
