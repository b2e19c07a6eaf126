"""What every bench case prints: one JSON line with its time and peak memory."""

import json
import resource
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def report(
    seconds: float, customers: int, features: int | None = None, rows: int | None = None, **extra
) -> None:
    """Print the measurements of a case (peak resident memory read here, in MB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "customers": customers,
                "features": features,
                "peak_rss_mb": peak,
                **extra,
            }
        )
    )


def reset_peak_rss() -> bool:
    """Start a new peak of resident memory for this process (Linux: ``VmHWM`` is set back
    to the current resident set); ``False`` where the system cannot, and the peaks read
    afterwards are the process's since it started."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _status_mb(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """The peak resident memory, in MB, since the last :func:`reset_peak_rss` (or the
    process's start)."""
    peak = _status_mb("VmHWM")
    if peak is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak


def rss_mb() -> float | None:
    """The resident memory now, in MB (``None`` where the system does not say)."""
    return _status_mb("VmRSS")
