"""`churn outcomes` for a checkout: `python pipelines/outcomes.py [overrides]`; see `--help`."""

from __future__ import annotations

import sys

from churn.cli import run_stage

if __name__ == "__main__":
    run_stage("outcomes", sys.argv[1:])
