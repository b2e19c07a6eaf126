"""Compare the demo outputs of two versions of churn: the at-risk CSV byte for byte,
``scores.parquet`` frame for frame, and ``metrics.json`` key for key.

Run ``churn train`` then ``churn score`` with each version into its own folder, then::

    python benchmarks/compare_outputs.py OLD_OUTPUTS NEW_OUTPUTS [--as-of 2025-12-30]

Each folder is a ``paths.root`` (holding ``train/<time>/`` and ``scores/en/<as_of>/``). What
belongs to one run only is not compared: the run id, the registered version, the timings,
and the folder names inside warnings. Exit code 0 when everything else is equal.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

RUN_SPECIFIC = {"run_id", "model_version", "timings_s"}


def latest_metrics(root: Path) -> dict[str, Any]:
    """The newest training run's ``metrics.json`` under ``root/train/``."""
    runs = sorted((root / "train").glob("*/metrics.json"))
    if not runs:
        raise SystemExit(f"no train/<time>/metrics.json under {root}")
    return json.loads(runs[-1].read_text())


def comparable(value: Any) -> Any:
    """``value`` without the run-specific keys, and with absolute paths in text reduced to
    their file name (a warning names the run's own folder)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in RUN_SPECIFIC}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"(/[^\s/'\"]+)+/([^\s/'\"]+)", r"\2", value)
    return value


def differences(old: Path, new: Path, as_of: str) -> list[str]:
    """What differs between the two output folders; empty when they agree."""
    found = []
    folder = Path("scores") / "en" / as_of
    wanted = [folder / name for name in ("at_risk_customers.csv", "scores.parquet")]
    missing = [str(r / name) for r in (old, new) for name in wanted if not (r / name).exists()]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)}; run churn score (as_of={as_of}) first")
    a, b = comparable(latest_metrics(old)), comparable(latest_metrics(new))
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            found.append(f"metrics.json: {key}: {str(a.get(key))[:120]} != {str(b.get(key))[:120]}")
    csv = Path("scores") / "en" / as_of / "at_risk_customers.csv"
    if (old / csv).read_bytes() != (new / csv).read_bytes():
        found.append(f"{csv}: the bytes differ")
    scores = Path("scores") / "en" / as_of / "scores.parquet"
    try:
        pd.testing.assert_frame_equal(
            pd.read_parquet(old / scores), pd.read_parquet(new / scores), check_exact=True
        )
    except AssertionError as exc:
        found.append(f"{scores}: {str(exc).splitlines()[0]}")
    return found


def main() -> None:
    """Command line: print the differences; exit 1 when there are any."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--as-of", default="2025-12-30", help="the scored date (YYYY-MM-DD)")
    args = parser.parse_args()
    found = differences(args.old, args.new, args.as_of)
    for line in found:
        print(line)
    print("identical" if not found else f"{len(found)} difference(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
