"""The score stage's output folder ``<output_dir>/<locale>/<as_of>/``: written whole or not at all.

The ``<as_of>/`` folder belongs to the score stage alone: a rerun replaces it as a whole,
so it refuses to start when the folder holds files the stage did not write.

Next to it, in ``<output_dir>``, the stage keeps hidden working names for that date:
``.<as_of>.lock`` (an empty lock file, kept), ``.<as_of>.<8 chars>`` (the folder being
written) and ``.<as_of>.old`` (the previous folder during the swap).

Linux and macOS: runs for the same date take turns through ``fcntl.flock`` on the lock
file. Where ``flock`` is missing (Windows, some network file systems) the folder is still
written whole, with a warning, but two runs racing for the same date are not kept apart.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import shutil
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from churn.errors import ConfigError, StorageError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_SHOWN_FOREIGN_NAMES = 5
# flock refused by the file system (NFS without lockd, some FUSE mounts): run unlocked.
_NO_LOCKING = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def check_output_folder(target: Path, own_names: Collection[str]) -> None:
    """Refuse an output folder that a rerun could not replace without losing someone's files.

    Cheap and read-only: call it before the expensive work; :func:`atomic_dir` repeats it
    under the lock, just before the swap.

    Parameters
    ----------
    target : Path
        ``<output_dir>/<as_of>``; it need not exist yet.
    own_names : Collection[str]
        Every file or folder name the stage may write at the top of ``target``.

    Raises
    ------
    ConfigError
        ``<output_dir>`` (or a folder above it) is a file, ``target`` is a file, or
        ``target`` holds names not in ``own_names``. When a killed run left ``target``
        hidden as ``.<as_of>.old``, that folder is the one checked, since the next run
        restores it.
    StorageError
        The folder exists but cannot be listed (permissions).
    """
    for folder in (target.parent, *target.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(
                    f"score.output_dir {target.parent}: {folder} is a file, not a folder; "
                    f"move it or choose another score.output_dir"
                )
            break
    names = _listing(target, target)
    if names is None:
        names = _listing(_old(target), target)
    if names is None:
        return
    foreign = sorted(set(names) - set(own_names))
    if foreign:
        shown = ", ".join(foreign[:_SHOWN_FOREIGN_NAMES])
        more = len(foreign) - _SHOWN_FOREIGN_NAMES
        if more > 0:
            shown += f" (and {more} more)"
        raise ConfigError(
            f"{target} holds files the score stage did not write: {shown}; a rerun replaces "
            f"the whole folder, so move them elsewhere or choose another score.output_dir"
        )


@contextmanager
def atomic_dir(target: Path, own_names: Collection[str]) -> Iterator[Path]:
    """Yield an empty folder that replaces ``target`` only if the block succeeds.

    Readers of ``target`` see the previous complete folder until the swap, then the new
    complete one; never a half-written folder.

    Runs for the same ``target`` take turns: the lock ``<output_dir>/.<as_of>.lock`` is
    held from before the temporary folder is made until after the swap (so keep the block
    to writing files; do the expensive work before). The kernel releases it when a process
    dies, even by ``kill -9``. Two runs racing both succeed; the later one's folder stays.

    Under the lock, a half-done swap of a killed run is recovered first (its previous
    folder is restored, or discarded when the new one is already in place), and the
    temporary folders of killed runs are removed.

    What is atomic: each ``rename``. What is not: the swap is two renames
    (``target`` -> ``.<as_of>.old``, then the new folder -> ``target``); between them
    ``target`` is briefly missing, and a kill there leaves only ``.<as_of>.old``, which
    :func:`check_output_folder` reads and the next run restores. Files are flushed to disk
    (``fsync``) before the swap, so a power cut cannot put an incomplete folder in place.

    The folder and what the block writes in it get the permissions of any ``mkdir`` and
    ``open`` (the process umask, default ACLs).

    Parameters
    ----------
    target : Path
        ``<output_dir>/<as_of>``; ``<output_dir>`` is created if missing.
    own_names : Collection[str]
        Every name the stage may write at the top of the folder; anything else found in
        ``target`` stops the run (see :func:`check_output_folder`).

    Raises
    ------
    ConfigError
        ``target`` cannot be replaced without losing files that are not the stage's,
        checked on entry and again just before the swap; ``target`` keeps its content.
    StorageError
        An ``OSError`` (read-only folder, full disk, permissions) while preparing,
        writing or swapping; ``target`` keeps its previous content.
    ValueError
        The block wrote a name not in ``own_names`` (a programming error: the next run
        would refuse the folder).

    Other exceptions raised in the block propagate unchanged, after the temporary
    folder is removed.
    """
    target = Path(target)
    check_output_folder(target, own_names)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage_error(target, exc) from exc
    with _date_lock(target):
        try:
            _recover(target)
            check_output_folder(target, own_names)
            tmp = _make_temp_folder(target)
        except OSError as exc:
            raise _storage_error(target, exc) from exc
        try:
            yield tmp
            unexpected = sorted(set(os.listdir(tmp)) - set(own_names))
            if unexpected:
                raise ValueError(
                    f"the score stage wrote {unexpected} but did not declare them in "
                    f"own_names: the next run would refuse {target}"
                )
            check_output_folder(target, own_names)
            _sync_tree(tmp)
            _swap(tmp, target)
        except OSError as exc:
            _remove(tmp)
            raise _storage_error(target, exc) from exc
        except BaseException:
            _remove(tmp)
            raise


def _old(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _listing(folder: Path, target: Path) -> list[str] | None:
    """The names in ``folder``, or None when it does not exist (outside the lock, another
    run may be renaming it right now; the check under the lock settles it)."""
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise ConfigError(
            f"{folder} is a file, not a folder; move it or choose another score.output_dir"
        ) from None
    except OSError as exc:
        raise _storage_error(target, exc) from exc


def _storage_error(target: Path, exc: OSError) -> StorageError:
    reason = f"[Errno {exc.errno}] {exc.strerror}" if exc.strerror else str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "free space or choose another score.output_dir"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "make it writable or choose another score.output_dir"
    else:
        advice = "check the folder or choose another score.output_dir"
    return StorageError(f"cannot write {target}: {reason}; {advice}")


@contextmanager
def _date_lock(target: Path) -> Iterator[None]:
    lock_path = target.with_name(f".{target.name}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _storage_error(target, exc) from exc
    try:
        if fcntl is None:
            log.warning("no file locking here: runs for %s are not kept apart", target)
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                if exc.errno not in _NO_LOCKING:
                    raise _storage_error(target, exc) from exc
                log.warning("%s cannot be locked (%s): runs are not kept apart", lock_path, exc)
        yield
    finally:
        # Closing releases the lock. The file stays: deleting it would let a waiting run
        # lock the deleted file while a new run locks a fresh one.
        os.close(fd)


def _recover(target: Path) -> None:
    """Finish what a killed run left, under the lock: no other run is writing this date."""
    old = _old(target)
    if old.exists() or old.is_symlink():
        if target.exists() or target.is_symlink():
            _remove(old, strict=True)  # the new folder made it in
        else:
            os.rename(old, target)  # killed between the two renames
    temp_name = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}")
    for name in os.listdir(target.parent):
        if temp_name.fullmatch(name):
            _remove(target.parent / name, strict=True)


def _make_temp_folder(target: Path) -> Path:
    # Not tempfile.mkdtemp: it makes 0700 folders, and the umask is the user's choice.
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        return tmp


def _swap(tmp: Path, target: Path) -> None:
    parent = target.parent
    if not (target.exists() or target.is_symlink()):
        os.rename(tmp, target)
        _sync_folder(parent)
        return
    old = _old(target)
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(old, target)
        raise
    _sync_folder(parent)
    _remove(old)  # a failure here is repaired by the next run's _recover


def _remove(path: Path, strict: bool = False) -> None:
    """Remove a file or folder tree; ``strict`` raises OSError if it cannot."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=not strict)
        return
    try:
        path.unlink(missing_ok=True)
    except OSError:
        if strict:
            raise


def _sync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _sync_folder(Path(root))


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the data files are synced
    finally:
        os.close(fd)
