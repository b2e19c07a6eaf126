"""The `churn` command and the installable package: commands, help, version, the configs
shipped inside the package, and entry points that never succeed silently."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from churn.cli import CONF_DIR, STAGES
from churn.stages.cli import JsonLogFormatter
from churn.stages.run_context import code_version, installed_version
from tests.cli import last_line, run_churn
from tests.conftest import CONF_DIR as SOURCE_CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [*STAGES, "demo-data", "demo-campaign"]


def test_help_lists_every_command(tmp_path):
    shown = run_churn(["--help"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    listed = [line.split()[0] for line in shown.stdout.splitlines() if line.startswith("  ")]
    assert set(COMMANDS) <= set(listed)


def test_version_is_churns_own(tmp_path):
    shown = run_churn(["--version"], cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"churn {installed_version()}"
    assert "Hydra" not in shown.stdout


def test_a_stage_also_answers_version_with_churns(tmp_path):
    shown = run_churn(["score", "--version"], cwd=tmp_path)
    assert (shown.returncode, shown.stdout.strip()) == (0, f"churn {installed_version()}")


def test_an_unknown_command_exits_2_with_one_error_line(tmp_path):
    shown = run_churn(["scroe"], cwd=tmp_path)
    assert shown.returncode == 2
    assert last_line(shown) == "error: unknown command 'scroe': choose one of the commands above"


def test_help_into_a_reader_that_stops_early_ends_without_a_traceback(tmp_path):
    # `churn --help | head -1`: here the reader has gone before anything is written.
    child = subprocess.Popen(
        [sys.executable, "-m", "churn", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    child.stdout.close()
    said = child.stderr.read().decode()
    child.wait(timeout=60)
    assert "Traceback" not in said and "BrokenPipe" not in said


def test_training_on_a_missing_file_leaves_no_empty_store_behind(tmp_path):
    shown = run_churn(["train", "data.transactions=missing.csv"], cwd=tmp_path)
    assert shown.returncode == 3
    assert not (tmp_path / "mlflow.db").exists()


def test_no_command_is_a_usage_error_not_success(tmp_path):
    shown = run_churn([], cwd=tmp_path)
    assert shown.returncode == 2
    assert last_line(shown).startswith("error: no command given")


def test_a_stage_help_shows_its_header_and_groups_and_writes_nothing(tmp_path):
    shown = run_churn(["score", "--help"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("churn score: Score customers")
    assert "engine: duckdb, spark" in shown.stdout
    assert list(tmp_path.iterdir()) == []


def _between(text: str, start: str, end: str) -> str:
    """``text`` from ``start`` to ``end`` included, on one line."""
    first = text.index(start)
    return " ".join(text[first : text.index(end, first) + len(end)].split())


@pytest.mark.parametrize("stage", ["outcomes", "uplift"])
def test_a_stage_help_gives_the_exit_codes_and_logging_of_churn_help(stage, tmp_path):
    main = run_churn(["--help"], cwd=tmp_path).stdout
    shown = run_churn([stage, "--help"], cwd=tmp_path).stdout
    codes = _between(shown, "Exit codes:", "1 bug.")
    assert codes == _between(main, "Exit codes:", "1 bug.")
    assert "7 retrain (outcomes)" in codes
    assert _between(shown, "Logging:", "(no log file).") == (
        "Logging: hydra/job_logging=quiet (warnings only on the console), =json (one JSON "
        "object per line), =none (no log file)."
    )


def test_score_help_names_every_selection(tmp_path):
    shown = run_churn(["score", "--help"], cwd=tmp_path).stdout
    said = _between(shown, "Who is listed", "Example:")
    for selection in ("share", "tiers", "top_k", "budget", "uplift"):
        assert f" {selection} (" in said or f" {selection}," in said, selection


@pytest.mark.parametrize("stage", ["score", "train"])
def test_a_stage_module_runs_the_stage_instead_of_exiting_silently(stage, tmp_path):
    shown = run_churn(["--help"], cwd=tmp_path, entry=("-m", f"churn.stages.{stage}"))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"churn {stage}: ")


def test_a_stage_module_reports_a_wrong_setting_like_the_command(tmp_path):
    shown = run_churn(["score.top_k=x"], cwd=tmp_path, entry=("-m", "churn.stages.score"))
    assert shown.returncode == 2
    assert last_line(shown).startswith("error: score.top_k='x'")


@pytest.mark.parametrize("stage", ["ingest", "train"])
def test_the_pipeline_scripts_are_the_command_under_another_name(stage, tmp_path):
    script = ROOT / "pipelines" / f"{stage}.py"
    shown = run_churn(["ingest.max_bad_fraction=2"], cwd=tmp_path, entry=(str(script),))
    assert shown.returncode == 2
    assert last_line(shown).startswith("error: ingest.max_bad_fraction=2")


def test_config_dir_puts_a_shops_own_configs_first(tmp_path):
    own = tmp_path / "shop_conf" / "data"
    own.mkdir(parents=True)
    (own / "myshop.yaml").write_text(
        "defaults:\n  - canonical\n  - _self_\ntransactions: /srv/exports/orders.csv\n"
    )
    shown = run_churn(
        ["features", "--config-dir", str(tmp_path / "shop_conf"), "data=myshop", "--cfg", "job"],
        cwd=tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    assert "transactions: /srv/exports/orders.csv" in shown.stdout


def test_the_package_configs_are_the_repository_conf_folder():
    shipped = sorted(p.relative_to(CONF_DIR) for p in CONF_DIR.rglob("*.yaml"))
    source = sorted(p.relative_to(SOURCE_CONF_DIR) for p in Path(SOURCE_CONF_DIR).rglob("*.yaml"))
    assert shipped == source and len(shipped) > 20


@pytest.mark.slow
def test_the_wheel_ships_the_configs_and_the_console_script(tmp_path):
    import subprocess

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("churn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = {
        f"churn/conf/{p.relative_to(SOURCE_CONF_DIR).as_posix()}"
        for p in Path(SOURCE_CONF_DIR).rglob("*.yaml")
    }
    assert source <= names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "churn = churn.cli:main" in text


def test_the_code_version_is_the_installed_one_plus_the_commit_in_a_checkout():
    version = code_version()
    assert version.startswith(installed_version())
    if (ROOT / ".git").exists() and (ROOT / "src" / "churn").resolve() == CONF_DIR.parent:
        assert "+git." in version


def test_json_logs_are_one_object_per_line():
    record = logging.LogRecord("churn", logging.WARNING, "x.py", 1, "scored %d", (3,), None)
    record.created, record.msecs = 0.0, 0.0
    line = JsonLogFormatter().format(record)
    assert json.loads(line) == {
        "time": "1970-01-01T00:00:00.000Z",
        "level": "WARNING",
        "logger": "churn",
        "message": "scored 3",
    }
