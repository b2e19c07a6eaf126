"""Writing a stage's files: strict, stable JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None``: strict JSON has no
    ``NaN`` or ``Infinity``, and a reader such as ``jq`` or a browser refuses them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    if isinstance(value, np.generic):
        return finite_json(value.item())
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented, key-sorted, strict JSON (stable across runs; a
    non-finite number is written as ``null``)."""
    text = json.dumps(finite_json(payload), indent=2, sort_keys=True, default=str, allow_nan=False)
    path.write_text(text + "\n")
