"""How the tests run the command line: ``churn <command> ...`` in a child process, as a
scheduler would, with the exit code and the output captured."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_churn(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    entry: Sequence[str] = ("-m", "churn"),
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``churn <args>`` (``python -m churn``, this interpreter) in ``cwd``.

    ``env`` adds to (or overrides) this process's environment; ``prefix`` goes before the
    interpreter (``setpriv ...`` to drop root's privileges); ``entry`` runs another entry
    point (``("-m", "churn.stages.score")``, ``("pipelines/score.py",)``). Nothing is
    checked: the completed process carries the exit code, stdout and stderr.
    """
    return subprocess.run(
        [*prefix, sys.executable, *entry, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last line of the process's stderr (where the one ``error:`` line goes)."""
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""
