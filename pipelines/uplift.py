"""`churn uplift` for a checkout: `python pipelines/uplift.py [overrides]`; see `--help`."""

from __future__ import annotations

import sys

from churn.cli import run_stage

if __name__ == "__main__":
    run_stage("uplift", sys.argv[1:])
