"""The score stage's output folder: replaced whole, ours alone, recoverable after a kill."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from churn.errors import ConfigError, StorageError
from churn.stages import output_folder
from churn.stages.output_folder import atomic_dir, check_output_folder

OURS = ("at_risk_customers.csv", "manifest.json", "scores.parquet")


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "scores" / "2024-10-31"


def write_outputs(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "at_risk_customers.csv").write_text(text)
    (folder / "manifest.json").write_text(text)


def hidden_names(target: Path) -> list[str]:
    """What sits next to the date folder, apart from the lock file (which stays)."""
    lock = f".{target.name}.lock"
    return sorted(n for n in os.listdir(target.parent) if n.startswith(".") and n != lock)


def run_child(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        text=True,
    )


# -- finding 12: permissions follow the umask ------------------------------------------


@pytest.mark.parametrize(
    ("umask", "folder_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)]
)
def test_folder_and_files_get_the_permissions_of_the_process_umask(
    target: Path, umask: int, folder_mode: int, file_mode: int
) -> None:
    previous = os.umask(umask)
    try:
        with atomic_dir(target, OURS) as tmp:
            (tmp / "at_risk_customers.csv").write_text("id\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == folder_mode
    assert stat.S_IMODE((target / "at_risk_customers.csv").stat().st_mode) == file_mode


# -- the basics: replaced whole or not at all -------------------------------------------


def test_a_rerun_replaces_the_previous_outputs_of_that_date(target: Path) -> None:
    write_outputs(target, "old")
    with atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("new")
    assert os.listdir(target) == ["at_risk_customers.csv"]
    assert (target / "at_risk_customers.csv").read_text() == "new"
    assert hidden_names(target) == []


def test_readers_see_the_previous_complete_folder_until_the_swap(target: Path) -> None:
    write_outputs(target, "old")
    with atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("new")
        assert (target / "at_risk_customers.csv").read_text() == "old"
        assert (target / "manifest.json").read_text() == "old"


def test_a_failing_block_leaves_the_previous_outputs_untouched(target: Path) -> None:
    write_outputs(target, "old")
    with pytest.raises(RuntimeError), atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("half")
        raise RuntimeError("boom")
    assert sorted(os.listdir(target)) == ["at_risk_customers.csv", "manifest.json"]
    assert (target / "at_risk_customers.csv").read_text() == "old"
    assert hidden_names(target) == []


def test_an_error_in_the_block_that_is_not_an_oserror_propagates_unchanged(target: Path) -> None:
    error = KeyError("risk_tier")
    with pytest.raises(KeyError) as raised, atomic_dir(target, OURS):
        raise error
    assert raised.value is error


# -- storage errors ----------------------------------------------------------------------


def test_a_full_disk_while_writing_is_a_storage_error_naming_the_folder_and_the_reason(
    target: Path,
) -> None:
    write_outputs(target, "old")
    with pytest.raises(StorageError) as raised, atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp / "scores.parquet"))
    message = str(raised.value)
    assert message == (
        f"cannot write {target}: [Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}; "
        f"free space or choose another score.output_dir"
    )
    assert raised.value.exit_code == 6
    assert (target / "at_risk_customers.csv").read_text() == "old"
    assert hidden_names(target) == []


def test_a_failed_swap_puts_the_previous_folder_back_and_is_a_storage_error(
    target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_outputs(target, "old")
    real_rename = os.rename
    calls = []

    def rename_failing_second(src: Path, dst: Path) -> None:
        calls.append(src)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_rename(src, dst)

    monkeypatch.setattr(output_folder.os, "rename", rename_failing_second)
    failed_swap = pytest.raises(StorageError, match="cannot write .*Input/output error")
    with failed_swap, atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("new")
    assert (target / "at_risk_customers.csv").read_text() == "old"
    assert hidden_names(target) == []


def test_a_read_only_file_system_is_a_storage_error_before_the_block(
    target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_outputs(target, "old")

    def read_only(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(output_folder.os, "open", read_only)
    entered = False
    read_only_error = pytest.raises(StorageError, match="Read-only file system; make it")
    with read_only_error, atomic_dir(target, OURS):
        entered = True
    assert not entered
    assert (target / "at_risk_customers.csv").read_text() == "old"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_dir_is_a_storage_error(target: Path) -> None:
    write_outputs(target, "old")
    target.parent.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="make it writable"), atomic_dir(target, OURS):
            pass
    finally:
        target.parent.chmod(0o755)
    assert (target / "at_risk_customers.csv").read_text() == "old"


# -- finding 13: the date folder is ours alone -------------------------------------------


def test_foreign_files_in_the_date_folder_stop_the_early_check(target: Path) -> None:
    write_outputs(target, "old")
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError) as raised:
        check_output_folder(target, OURS)
    message = str(raised.value)
    assert str(target) in message
    assert "notes.txt" in message
    assert "at_risk_customers.csv" not in message
    assert "choose another score.output_dir" in message
    assert raised.value.exit_code == 2


def test_foreign_files_stop_the_run_before_the_block_and_stay(target: Path) -> None:
    write_outputs(target, "old")
    (target / "notes.txt").write_text("mine")
    entered = False
    with pytest.raises(ConfigError, match="notes.txt"), atomic_dir(target, OURS):
        entered = True
    assert not entered
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "manifest.json").read_text() == "old"


def test_a_foreign_file_dropped_during_the_run_is_refused_at_swap_time(target: Path) -> None:
    write_outputs(target, "old")
    with pytest.raises(ConfigError, match="late.xlsx"), atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("new")
        (target / "late.xlsx").write_text("mine")
    assert (target / "late.xlsx").read_text() == "mine"
    assert (target / "at_risk_customers.csv").read_text() == "old"
    assert hidden_names(target) == []


def test_the_refusal_names_a_few_foreign_files_and_counts_the_rest(target: Path) -> None:
    target.mkdir(parents=True)
    for i in range(8):
        (target / f"extra{i}.txt").write_text("")
    with pytest.raises(ConfigError) as raised:
        check_output_folder(target, OURS)
    message = str(raised.value)
    assert "extra0.txt, extra1.txt, extra2.txt, extra3.txt, extra4.txt (and 3 more)" in message
    assert "extra5.txt" not in message


def test_a_missing_or_own_date_folder_passes_the_check(target: Path) -> None:
    check_output_folder(target, OURS)
    write_outputs(target, "old")
    (target / "scores.parquet").mkdir()  # the Spark engine writes a folder
    check_output_folder(target, OURS)


def test_an_output_dir_that_is_a_file_is_a_config_error(target: Path) -> None:
    target.parent.write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_output_folder(target, OURS)
    with pytest.raises(ConfigError, match="score.output_dir"), atomic_dir(target, OURS):
        pass
    assert target.parent.read_text() == "not a folder"


def test_a_date_folder_that_is_a_file_is_a_config_error(target: Path) -> None:
    target.parent.mkdir()
    target.write_text("not a folder")
    with pytest.raises(ConfigError, match="2024-10-31 is a file"), atomic_dir(target, OURS):
        pass
    assert target.read_text() == "not a folder"


def test_writing_a_name_not_declared_as_ours_is_a_programming_error(target: Path) -> None:
    write_outputs(target, "old")
    with pytest.raises(ValueError, match="debug.log"), atomic_dir(target, OURS) as tmp:
        (tmp / "debug.log").write_text("")
    assert (target / "at_risk_customers.csv").read_text() == "old"
    assert hidden_names(target) == []


# -- finding 14: recovering what a killed run left ---------------------------------------


def test_a_kill_between_the_renames_is_undone_by_the_next_run(target: Path) -> None:
    # What a run killed after "target -> .old" and before "new -> target" leaves behind.
    write_outputs(target.with_name(".2024-10-31.old"), "old")
    write_outputs(target.with_name(".2024-10-31.k1ll3d00"), "new, never swapped")
    check_output_folder(target, OURS)
    with pytest.raises(RuntimeError), atomic_dir(target, OURS):
        raise RuntimeError("this run fails too")
    assert (target / "at_risk_customers.csv").read_text() == "old"
    assert hidden_names(target) == []


def test_a_kill_after_the_swap_discards_the_previous_folder(target: Path) -> None:
    write_outputs(target, "new")
    write_outputs(target.with_name(".2024-10-31.old"), "old")
    with atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("newer")
    assert (target / "at_risk_customers.csv").read_text() == "newer"
    assert hidden_names(target) == []


def test_the_early_check_reads_the_hidden_previous_folder_after_a_kill(target: Path) -> None:
    write_outputs(target.with_name(".2024-10-31.old"), "old")
    (target.with_name(".2024-10-31.old") / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="notes.txt"):
        check_output_folder(target, OURS)


def test_temp_folders_of_killed_runs_are_removed_and_other_dates_kept(target: Path) -> None:
    write_outputs(target.with_name(".2024-10-31.abc_1234"), "killed")
    write_outputs(target.with_name(".2024-11-01.abc_1234"), "another date, maybe running")
    with atomic_dir(target, OURS) as tmp:
        (tmp / "manifest.json").write_text("{}")
    assert hidden_names(target) == [".2024-11-01.abc_1234"]


def test_two_runs_for_the_same_date_both_succeed_and_one_folder_wins(target: Path) -> None:
    write_outputs(target, "old")
    runs = 4
    start = threading.Barrier(runs)
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            start.wait()
            with atomic_dir(target, OURS) as tmp:
                (tmp / "at_risk_customers.csv").write_text(name)
                (tmp / "manifest.json").write_text(name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"run{i}",)) for i in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    winner = (target / "at_risk_customers.csv").read_text()
    assert winner in {f"run{i}" for i in range(runs)}
    assert (target / "manifest.json").read_text() == winner
    assert hidden_names(target) == []


def test_a_run_killed_while_holding_the_lock_does_not_block_the_next(target: Path) -> None:
    write_outputs(target, "old")
    child = run_child(
        f"""
        import time
        from pathlib import Path
        from churn.stages.output_folder import atomic_dir
        with atomic_dir(Path({str(target)!r}), {OURS!r}) as tmp:
            (tmp / "at_risk_customers.csv").write_text("killed")
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    try:
        assert child.stdout.readline() == "writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert len(hidden_names(target)) == 1  # its temp folder
    assert (target / "at_risk_customers.csv").read_text() == "old"

    done = threading.Event()

    def next_run() -> None:
        with atomic_dir(target, OURS) as tmp:
            (tmp / "at_risk_customers.csv").write_text("next")
        done.set()

    threading.Thread(target=next_run, daemon=True).start()
    assert done.wait(timeout=10), "the lock of the killed run is still held"
    assert (target / "at_risk_customers.csv").read_text() == "next"
    assert hidden_names(target) == []


def test_a_run_killed_between_the_renames_is_recovered_by_the_next(target: Path) -> None:
    write_outputs(target, "old")
    child = run_child(
        f"""
        import os, signal
        from pathlib import Path
        from churn.stages import output_folder
        real_rename = os.rename
        def rename_then_die(src, dst):
            real_rename(src, dst)
            os.kill(os.getpid(), signal.SIGKILL)
        output_folder.os.rename = rename_then_die
        with output_folder.atomic_dir(Path({str(target)!r}), {OURS!r}) as tmp:
            (tmp / "at_risk_customers.csv").write_text("killed midway")
        """
    )
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert not target.exists()
    assert ".2024-10-31.old" in hidden_names(target)

    check_output_folder(target, OURS)
    with pytest.raises(RuntimeError), atomic_dir(target, OURS):
        raise RuntimeError("the next run fails before its swap")
    assert (target / "at_risk_customers.csv").read_text() == "old"
    assert hidden_names(target) == []


def test_without_flock_the_folder_is_still_replaced_whole(
    target: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(output_folder, "fcntl", None)
    write_outputs(target, "old")
    with atomic_dir(target, OURS) as tmp:
        (tmp / "at_risk_customers.csv").write_text("new")
    assert (target / "at_risk_customers.csv").read_text() == "new"
    assert "not kept apart" in caplog.text
