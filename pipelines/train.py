"""`churn train` for a checkout: `python pipelines/train.py [overrides]`; see `--help`."""

from __future__ import annotations

import sys

from churn.cli import run_stage

if __name__ == "__main__":
    run_stage("train", sys.argv[1:])
