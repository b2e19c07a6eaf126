"""The command-line contract: every failure ends in one ``error:`` line, the last on stderr,
with a documented exit code; never a traceback."""

from __future__ import annotations

import errno
import json
import subprocess
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from churn.errors import DataContractError
from churn.stages.cli import one_line, run_cli
from churn.stages.outputs import finite_json, write_json
from tests.cli import last_line, run_churn


def cli(stage: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_churn([stage, *args], cwd=cwd)


@pytest.fixture
def no_settings_check(monkeypatch):
    """Stages here are stand-ins with an empty config: skip the settings check."""
    monkeypatch.setattr("churn.stages.cli.validate_settings", lambda cfg, stage=None: None)


def run_in_process(run, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        run_cli(run, OmegaConf.create({}))
    return int(exited.value.code), capsys.readouterr().err


@pytest.mark.parametrize(
    "override",
    ["score.top_kk=5", "score.top_k=[", "data=nonexistent", "--config-name=nope"],
)
def test_a_configuration_hydra_cannot_compose_ends_in_one_error_line(tmp_path, override):
    result = cli("score", override, f"hydra.run.dir={tmp_path / 'logs'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert last_line(result).startswith("error: ")
    assert "HYDRA_FULL_ERROR" not in result.stderr
    assert sum(line.startswith("error:") for line in result.stderr.splitlines()) == 1


def test_a_multi_line_engine_error_is_told_in_one_line(tmp_path):
    result = cli(
        "features",
        "data.query=SELEC customer_id FROM nowhere",
        f"hydra.run.dir={tmp_path / 'logs'}",
        cwd=tmp_path,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert last_line(result).startswith("error: query 'SELEC customer_id FROM nowhere'")
    assert "Traceback" not in result.stderr


def test_a_contract_violation_lists_every_problem_on_the_last_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer,when\nC1,2024-01-01\n")
    result = cli(
        "features", f"data.transactions={bad}", f"hydra.run.dir={tmp_path / 'logs'}", cwd=tmp_path
    )
    assert result.returncode == 3, result.stderr[-2000:]
    line = last_line(result)
    assert line.startswith(f"error: {bad} violates the data contract")
    assert "column customer_id" in line and "column ts" in line and "column amount" in line


def test_scoring_an_absolute_glob_fingerprints_its_files(small_shop_path, trained_store, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-1.parquet").write_bytes(small_shop_path.read_bytes())
    result = cli(
        "score",
        f"data.transactions={folder}/*.parquet",
        f"score.output_dir={tmp_path / 'scores'}",
        f"hydra.run.dir={tmp_path / 'logs'}",
        "as_of=2024-10-31",
        *trained_store,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "scores" / "en" / "2024-10-31" / "manifest.json").read_text())
    assert manifest["input"]["bytes"] == small_shop_path.stat().st_size


def test_a_churn_error_exits_with_its_code_and_one_line(capsys, no_settings_check):
    def run(cfg):
        raise DataContractError("x.csv violates the data contract:\n  - column ts: missing")

    code, err = run_in_process(run, capsys)
    assert code == 3
    assert err.strip().splitlines() == [
        "error: x.csv violates the data contract: column ts: missing"
    ]


def test_a_full_disk_is_exit_6_naming_the_file(capsys, no_settings_check):
    def run(cfg):
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/out/list.csv")

    code, err = run_in_process(run, capsys)
    assert code == 6
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("error: cannot read or write /srv/out/list.csv: No space left on device")
    )


def test_an_unexpected_error_saves_its_traceback_and_ends_in_one_line(capsys, no_settings_check):
    def run(cfg):
        raise KeyError("surprise")

    code, err = run_in_process(run, capsys)
    assert code == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: unexpected KeyError: 'surprise'")
    saved = Path(line.rsplit(" in ", 1)[1])
    assert "KeyError: 'surprise'" in saved.read_text()
    assert "Traceback" not in err


def test_one_line_joins_the_lines_of_a_message():
    assert one_line("a violates:\n  - col x: bad\n  - col y: bad\n  hint") == (
        "a violates: col x: bad; col y: bad; hint"
    )


def test_non_finite_numbers_become_null_in_strict_json(tmp_path):
    assert finite_json({"a": float("inf"), "b": [1.5, float("nan")]}) == {
        "a": None,
        "b": [1.5, None],
    }
    write_json(tmp_path / "m.json", {"total": float("inf")})
    assert json.loads((tmp_path / "m.json").read_text()) == {"total": None}
    assert "Infinity" not in (tmp_path / "m.json").read_text()


def test_a_log_folder_that_cannot_be_created_is_exit_6(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = cli("features", f"hydra.run.dir={blocker / 'logs'}", cwd=tmp_path)
    assert result.returncode == 6, result.stderr[-2000:]
    assert last_line(result).startswith("error: ") and str(blocker) in last_line(result)
