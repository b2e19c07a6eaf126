"""What every bench case prints: one JSON line with its time and peak memory."""

import json
import resource


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
