"""Everything that talks to MLflow: runs, the logged model, the registry and its aliases.

Other modules return plain dicts and objects; only this module imports :mod:`mlflow`.
The logged model is a pyfunc defined by code (:mod:`churn.tracking.pyfunc_model`, MLflow's
"models from code") around the classifier saved in LightGBM's text format, so no pickle is
involved. Its ``predict`` returns churn probabilities; the full
:class:`~churn.modeling.model.ChurnClassifier` (with SHAP contributions) is recovered by
:func:`load_registered_model`. Loading it needs the ``churn`` package installed.

A store that cannot be read or written (read-only, corrupt, unreachable) is a
:class:`~churn.errors.StorageError` naming the store and the cause; the conversion happens
here, so the stages never catch MLflow's own exceptions.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
import pandas as pd
import requests
import sqlalchemy.exc
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from churn.errors import NoModelError, StorageError
from churn.modeling.gate import CHAMPION
from churn.modeling.model import ChurnClassifier

log = logging.getLogger(__name__)

EVALUATION_MODEL = "evaluation_model"


@dataclass(frozen=True)
class RegisteredModel:
    """A model loaded from the registry, with where it came from."""

    classifier: ChurnClassifier
    name: str
    version: str
    run_id: str
    # Where MLflow loads it from: ``models:/<name>/<version>``, or an exported folder.
    uri: str = ""


_SQLITE_HEADER = b"SQLite format 3\x00"

# While we check that a tracking server answers: one retry, ten seconds, instead of
# MLflow's minutes of backoff (MLFLOW_HTTP_REQUEST_* in mlflow.environment_variables).
# Values the user exported win.
_FAIL_FAST_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


@dataclass(frozen=True)
class _LocalStore:
    """A tracking store on this machine's file system: a SQLite file or a file store
    folder."""

    kind: str
    path: Path


def _local_store(uri: str) -> _LocalStore | None:
    """Where a ``sqlite:`` or file-store URI keeps its data; ``None`` for servers and
    database servers (their existence cannot be checked from here) and in-memory SQLite."""
    if uri.startswith("sqlite:"):
        database = uri.removeprefix("sqlite:").removeprefix("///").split("?", 1)[0]
        if database in ("", "//", ":memory:"):
            return None
        return _LocalStore("sqlite", Path(database))
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return _LocalStore("file", Path(parsed.path))
    if (
        "://" not in uri
        and not uri.startswith("databricks")
        and not re.match(r"^[a-z][a-z0-9+.-]*:", uri)
    ):
        return _LocalStore("file", Path(uri))
    return None


def _check_local_store(uri: str, store: _LocalStore, *, writes: bool) -> None:
    """Refuse a local store that exists but cannot serve: not a SQLite database, or (when
    the stage writes) not writable. Checked before MLflow touches it, whose own failures
    come after minutes of training or with its traceback in the log."""
    path = store.path
    if store.kind == "sqlite":
        if path.is_dir():
            raise StorageError(
                f"MLflow store {uri} is a folder, not a SQLite database: set tracking.uri "
                "to the database file"
            )
        try:
            with path.open("rb") as handle:
                header = handle.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise StorageError(
                f"MLflow store {uri} cannot be read: {exc.strerror or exc}; check its "
                "permissions or set tracking.uri"
            ) from exc
        if header and header != _SQLITE_HEADER:
            raise StorageError(
                f"MLflow store {uri} is not a SQLite database (corrupt, or another file "
                "at that path); restore it from a backup or set tracking.uri"
            )
    if not writes:
        return
    folder = path.parent if store.kind == "sqlite" else path
    if store.kind == "sqlite" and not os.access(path, os.W_OK):
        cause = f"no write permission on {path}"
    elif not os.access(folder, os.W_OK | os.X_OK):
        # SQLite writes its journal next to the database file.
        cause = f"no write permission on its folder {folder}"
    else:
        return
    raise StorageError(
        f"MLflow store {uri} is read-only: {cause}; check its permissions or set tracking.uri"
    )


def _check_new_store(uri: str, store: _LocalStore) -> None:
    """Make sure a store that training is about to create can be created, and say that it
    is new: a mistyped tracking.uri shows here rather than as a run in an unexpected
    place."""
    existing = next(
        p for p in (store.path.absolute(), *store.path.absolute().parents) if p.exists()
    )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StorageError(
            f"MLflow store {uri} cannot be created: no write permission on {existing}; "
            "check its permissions or set tracking.uri"
        )
    log.warning(
        "no MLflow store at %s: creating a new one (%s); set tracking.uri if you meant an "
        "existing store",
        uri,
        store.path.absolute(),
    )


@contextmanager
def _fail_fast(uri: str) -> Iterator[None]:
    """For the duration of the block, a tracking server that does not answer fails within
    seconds instead of after MLflow's retries."""
    if urlparse(uri).scheme not in ("http", "https"):
        yield
        return
    added = {k: v for k, v in _FAIL_FAST_HTTP.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def _storage_error(exc: BaseException, uri: str) -> StorageError | None:
    """The :class:`StorageError` an infrastructure failure in MLflow's call stands for, or
    ``None`` when ``exc`` is about the request itself (no such model, bad argument) or
    about missing files (an unusable model, not a broken store)."""
    for cause in _chain(exc):
        if isinstance(cause, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            shown = re.search(r"\[Errno -?\d+\] [^'\")]+", str(cause))
            why = shown.group(0) if shown else type(cause).__name__
            return StorageError(
                f"MLflow tracking server {uri} cannot be reached: {why}; start it (make "
                "mlflow-server) or check tracking.uri"
            )
        if isinstance(cause, sqlalchemy.exc.DBAPIError):
            why = _first_line(cause.orig)
            if "readonly" in why or "read-only" in why:
                return StorageError(
                    f"MLflow store {uri} is read-only: {why}; check its permissions or set "
                    "tracking.uri"
                )
            if "not a database" in why or "malformed" in why:
                return StorageError(
                    f"MLflow store {uri} is corrupt: {why}; restore it from a backup or set "
                    "tracking.uri"
                )
            return StorageError(
                f"MLflow store {uri} cannot be used: {why}; check the database and tracking.uri"
            )
        if isinstance(cause, PermissionError):
            return StorageError(
                f"MLflow store {uri}: no permission to {cause.filename or 'its files'}; "
                "check the permissions of the store and its artifact folder"
            )
        if isinstance(cause, OSError) and cause.errno in (
            errno.ENOSPC,
            errno.EDQUOT,
            errno.EROFS,
        ):
            return StorageError(
                f"MLflow store {uri} cannot be written: {cause.strerror} "
                f"({cause.filename or 'its artifact folder'}); free space or set tracking.uri"
            )
    return None


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn an infrastructure failure of the MLflow calls in the block into a
    :class:`StorageError`; every other exception passes unchanged."""
    try:
        yield
    except (
        MlflowException,
        sqlalchemy.exc.SQLAlchemyError,
        requests.RequestException,
        OSError,
    ) as exc:
        converted = _storage_error(exc, mlflow.get_tracking_uri())
        if converted is None:
            raise
        raise converted from exc


def _store_missing(uri: str) -> Path | None:
    """The path of a local store that does not exist, or ``None``."""
    store = _local_store(uri)
    if store is None or store.path.exists():
        return None
    return store.path.absolute()


def _connect(tracking_uri: str, *, create: bool) -> bool:
    """Point MLflow at ``tracking_uri`` after checking a local store; ``False`` when a
    local store does not exist and is not to be created (nothing is created then)."""
    # Artifact progress bars would clutter batch-job logs.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    local = _local_store(tracking_uri)
    if local is not None and not local.path.exists():
        if not create:
            return False
        _check_new_store(tracking_uri, local)
    elif local is not None:
        _check_local_store(tracking_uri, local, writes=create)
    return True


def start(
    tracking_uri: str,
    experiment: str,
    artifact_root: str | None = None,
    *,
    create: bool = False,
) -> str | None:
    """Point MLflow at ``tracking_uri`` and check that the store can serve the stage.

    Stages that only read the registry (the default, ``create=False``) create nothing: a
    local store (SQLite file, file store folder) that does not exist is left so, and
    :func:`load_registered_model` then says there is none; an existing store gets no new
    experiment. Training (``create=True``) creates a missing store (and says so in the
    log) and the experiment, whose artifacts go under ``artifact_root`` (a local folder or
    a URI) when given; the store must be writable.

    Returns the experiment id, or ``None`` when it does not exist and was not created.

    Raises
    ------
    StorageError
        If the store is not a SQLite database, is read-only (``create=True``), or its
        server does not answer (within seconds: MLflow's HTTP retries are shortened for
        this check).
    """
    if not _connect(tracking_uri, create=create):
        return None
    with _fail_fast(tracking_uri), _store_errors():
        client = MlflowClient()
        existing = client.get_experiment_by_name(experiment)
        if existing is not None:
            experiment_id = existing.experiment_id
        elif not create:
            return None
        else:
            location = None
            if artifact_root:
                location = (
                    artifact_root
                    if "://" in artifact_root
                    else Path(artifact_root).resolve().as_uri()
                )
            experiment_id = client.create_experiment(experiment, artifact_location=location)
        mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), sub)
    else:
        yield prefix, value


def log_training_run(
    *,
    run_name: str | None,
    config: Mapping[str, Any],
    metrics: Mapping[str, float],
    classifier: ChurnClassifier,
    evaluation_classifier: ChurnClassifier | None,
    input_example: pd.DataFrame,
    artifacts: Iterable[Path],
    registered_model_name: str | None,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, str | None]:
    """Log one training run and register its model; returns ``(run_id, model_version)``.

    The run gets the flattened config as params, the metrics, the given artifact files,
    the model (pyfunc, with signature and input example) registered under
    ``registered_model_name`` (not registered when that is ``None``; the version is then
    ``None``), and the evaluated model before its final refit as the artifact folder
    :data:`EVALUATION_MODEL` (the promotion gate of later runs re-scores it).
    """
    with _store_errors(), mlflow.start_run(run_name=run_name) as run:
        if tags:
            mlflow.set_tags(dict(tags))
        params = {k: str(v)[:500] for k, v in _flatten("", config)}
        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        for path in artifacts:
            mlflow.log_artifact(str(path))
        example = input_example[classifier.feature_names].head(5)
        signature = infer_signature(example, classifier.predict_proba(example))
        with tempfile.TemporaryDirectory() as tmp:
            if evaluation_classifier is not None:
                evaluated = evaluation_classifier.save(Path(tmp) / EVALUATION_MODEL)
                mlflow.log_artifacts(str(evaluated), artifact_path=EVALUATION_MODEL)
            saved = classifier.save(Path(tmp) / "classifier")
            info = _log_pyfunc(saved, signature, example, registered_model_name)
        version = info.registered_model_version
        return run.info.run_id, None if version is None else str(version)


def _log_pyfunc(
    saved: Path,
    signature: Any,
    example: pd.DataFrame,
    registered_name: str | None,
    code: str = "pyfunc_model.py",
    artifact: str = "classifier",
) -> Any:
    """Log the model saved at ``saved`` as an MLflow pyfunc defined by the file ``code``
    of this package (models from code), its folder as the artifact ``artifact``."""
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name(code)),
        artifacts={artifact: str(saved)},
        signature=signature,
        input_example=example,
        registered_model_name=registered_name,
        pip_requirements=[
            f"{pkg}=={package_version(pkg)}"
            for pkg in ("lightgbm", "pandas", "numpy", "scikit-learn")
        ],
    )


def log_files(run_id: str, paths: Iterable[Path]) -> None:
    """Add files to a finished run's artifacts."""
    client = MlflowClient()
    with _store_errors():
        for path in paths:
            client.log_artifact(run_id, str(path))


def record_gate(name: str, version: str, run_id: str, alias: str, tags: Mapping[str, str]) -> None:
    """Give ``version`` its alias, and put the gate's verdict on the version and the run
    as tags."""
    client = MlflowClient()
    with _store_errors():
        client.set_registered_model_alias(name, alias, version)
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
            client.set_tag(run_id, key, value)


@dataclass(frozen=True)
class ChampionReference:
    """The current champion as the gate compares with it: the model evaluated before its
    final refit (or the registered one for versions logged without it), the last
    date whose outcome that model saw in training, and the data source it was trained on
    (``None`` if not recorded)."""

    classifier: ChurnClassifier
    version: str
    labels_end: str | None
    evaluated_model: bool
    data_source: str | None = None


@dataclass(frozen=True)
class UnusableChampion:
    """A ``champion`` the registry names but whose model cannot be loaded (its files
    were deleted or do not hold a churn model): ``reason`` says why."""

    version: str
    reason: str
    data_source: str | None = None


# The tag (on the run, and on the model version) naming the data a model was trained on.
DATA_SOURCE_TAG = "data.source"


def _data_source(client: MlflowClient, mv: Any) -> str | None:
    """The data source a registered version was trained on: its version tag, else its
    run's (versions registered before the version tag existed); ``None`` if unknown."""
    source = (mv.tags or {}).get(DATA_SOURCE_TAG)
    if source is None and mv.run_id:
        try:
            with _store_errors():
                source = client.get_run(mv.run_id).data.tags.get(DATA_SOURCE_TAG)
        except MlflowException:
            return None
    return source


def champion_reference(name: str) -> ChampionReference | UnusableChampion | None:
    """The current ``champion`` of ``name`` for the promotion gate: ``None`` when the
    model has no champion yet, :class:`UnusableChampion` when it cannot be loaded.

    Raises
    ------
    StorageError
        If the store itself cannot be read (unreachable, corrupt).
    """
    client = MlflowClient()
    try:
        with _store_errors():
            mv = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    source = _data_source(client, mv)
    try:
        with _store_errors(), tempfile.TemporaryDirectory() as tmp:
            folder = mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path=EVALUATION_MODEL, dst_path=tmp
            )
            classifier = ChurnClassifier.load(folder)
        evaluated = True
    except (MlflowException, OSError):
        try:
            classifier = load_registered_model(name, version=mv.version).classifier
        except NoModelError as unusable:
            reason = _missing_files(client, mv.source) or (
                f"it cannot be loaded: {_first_line(unusable.__cause__ or unusable)}"
            )
            return UnusableChampion(version=str(mv.version), reason=reason, data_source=source)
        evaluated = False
    return ChampionReference(
        classifier=classifier,
        version=str(mv.version),
        labels_end=(mv.tags or {}).get("evaluation_labels_end" if evaluated else "labels_end"),
        evaluated_model=evaluated,
        data_source=source,
    )


def _missing_files(client: MlflowClient, source: str) -> str | None:
    """Says that a model version's files are gone when its source is a local folder
    that no longer exists (MLflow's own error reads "No such artifact: ''")."""
    if source.startswith("models:/"):
        with _store_errors():
            try:
                source = client.get_logged_model(source.removeprefix("models:/")).artifact_location
            except MlflowException:
                return None
    parsed = urlparse(source)
    if parsed.scheme in ("", "file") and not Path(parsed.path).exists():
        return f"its model files are gone: {parsed.path} does not exist"
    return None


def load_registered_model(
    name: str, alias: str | None = None, version: str | int | None = None
) -> RegisteredModel:
    """Load a registered version by number, or else by alias.

    Raises
    ------
    NoModelError
        If there is no store at a local ``tracking.uri`` (nothing is created), or the
        registry has no such model, version or alias, or its files do not load.
    StorageError
        If the store cannot be read (unreachable, corrupt).
    """
    uri = mlflow.get_tracking_uri()
    missing = _store_missing(uri)
    if missing is not None:
        raise NoModelError(
            f"no registered model '{name}': no MLflow store exists at {uri} (looked for "
            f"{missing}); check tracking.uri (or MLFLOW_TRACKING_URI), score an exported "
            "model with model.path=DIR, or run `churn train` (`make train` in a checkout) first"
        )
    client = MlflowClient()
    try:
        with _store_errors():
            if version is not None:
                mv = client.get_model_version(name, str(version))
            else:
                mv = client.get_model_version_by_alias(name, alias or CHAMPION)
    except MlflowException as exc:
        wanted = f"version {version}" if version is not None else f"alias @{alias or CHAMPION}"
        raise NoModelError(
            f"no registered model '{name}' with {wanted} in {mlflow.get_tracking_uri()}: "
            + _what_exists(client, name, version is None and (alias or CHAMPION) == CHAMPION)
        ) from exc
    try:
        with _store_errors():
            wrapper = mlflow.pyfunc.load_model(f"models:/{name}/{mv.version}").unwrap_python_model()
        wrapper.classifier  # noqa: B018 - fails here if the model is not a churn model
    except StorageError:
        raise
    except Exception as exc:
        why = _missing_files(client, mv.source) or _first_line(exc)
        raise NoModelError(
            f"model '{name}' version {mv.version} cannot be loaded as a churn model "
            f"({why}); retrain with `churn train` or pick another with model.version=N"
        ) from exc
    return RegisteredModel(
        classifier=wrapper.classifier,
        name=name,
        version=str(mv.version),
        run_id=mv.run_id,
        uri=f"models:/{name}/{mv.version}",
    )


def _what_exists(client: MlflowClient, name: str, asked_for_champion: bool) -> str:
    """What to do when the version asked for is missing, given the versions that exist."""
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except Exception:  # the hint must not hide the error it explains
        versions = []
    if not versions:
        return "run `churn train` first, or choose another with model.version=N / model.alias=NAME"
    if asked_for_champion:
        newest = max(versions, key=lambda v: int(v.version))
        return (
            f"{len(versions)} version(s) exist but none passed the promotion gate (the "
            f"newest, v{newest.version}, says why in its gate.outcome tag and the training "
            f"summary); score it anyway with model.version={newest.version}, or retrain with "
            "gate.force=true"
        )
    listed = ", ".join(
        f"v{v.version}" + "".join(f" @{a}" for a in (v.aliases or []))
        for v in sorted(versions, key=lambda v: int(v.version))
    )
    return f"the registry has {listed}; choose one with model.version=N or model.alias=NAME"


def spark_udf(spark: Any, name: str, version: str, *, uri: str | None = None) -> Any:
    """MLflow's Spark UDF of a registered version (or of the model at ``uri``, such as an
    exported folder): the churn probability of each row (the model's feature columns in, a
    double out), run in the workers' own Python."""
    return mlflow.pyfunc.spark_udf(
        spark, uri or f"models:/{name}/{version}", result_type="double", env_manager="local"
    )


# --- exported model folders (models/): scoring without a tracking store ------------------

# Written next to MLmodel in an exported folder: which registered version it is.
EXPORT_RECORD = "registered_model.json"


def export_model(
    tracking_uri: str,
    name: str,
    destination: Path,
    alias: str | None = None,
    version: str | int | None = None,
) -> RegisteredModel:
    """Copy a registered version (by number, or else by alias: the champion) into
    ``destination`` as an MLflow model folder that :func:`load_model` and ``mlflow
    models serve`` read without the store.

    The folder is replaced whole: it is written beside ``destination`` and moved in place
    once complete, so a scorer never reads half a model. ``registered_model.json`` in it
    records the name, version and run it came from.

    Raises
    ------
    NoModelError
        If the store, model, version or alias does not exist, or its files do not load.
    StorageError
        If the store cannot be read or the folder cannot be written.
    """
    _connect(tracking_uri, create=False)
    with _fail_fast(tracking_uri):
        model = load_registered_model(name, alias=alias, version=version)
    destination = destination.absolute()
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        with _store_errors():
            mlflow.artifacts.download_artifacts(
                artifact_uri=model.uri, dst_path=str(staging / "model")
            )
        record = {"name": model.name, "version": model.version, "run_id": model.run_id}
        (staging / "model" / EXPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        if destination.exists():
            shutil.rmtree(destination)
        (staging / "model").rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RegisteredModel(
        classifier=model.classifier,
        name=model.name,
        version=model.version,
        run_id=model.run_id,
        uri=str(destination),
    )


def load_exported_model(path: Path) -> RegisteredModel:
    """Load a model folder written by :func:`export_model`.

    Raises
    ------
    NoModelError
        If the folder does not exist or does not hold a churn model.
    """
    path = path.absolute()
    if not (path / "MLmodel").is_file():
        what = "does not exist" if not path.exists() else "holds no MLmodel file"
        raise NoModelError(
            f"no exported model at {path}: the folder {what}; write one with `churn export` "
            "on a machine with the tracking store, or leave model.path out to use the registry"
        )
    try:
        wrapper = mlflow.pyfunc.load_model(str(path)).unwrap_python_model()
        classifier = wrapper.classifier
    except Exception as exc:
        raise NoModelError(
            f"{path} cannot be loaded as a churn model ({_first_line(exc)}); export it again "
            "with `churn export`"
        ) from exc
    try:
        record = json.loads((path / EXPORT_RECORD).read_text())
    except (OSError, ValueError):
        record = {}
    return RegisteredModel(
        classifier=classifier,
        name=str(record.get("name", path.name)),
        version=str(record.get("version", "exported")),
        run_id=str(record.get("run_id", "")),
        uri=str(path),
    )


def load_model(
    path: str | None,
    tracking_uri: str,
    name: str,
    alias: str | None = None,
    version: str | int | None = None,
) -> RegisteredModel:
    """The model to score with: the exported folder at ``path`` when given (no store is
    read or created), else the registered version (by number, or else by alias) in the
    store at ``tracking_uri``, which is never created.

    Raises
    ------
    NoModelError
        If there is no such folder, store, model, version or alias, or it does not load;
        the message says where it looked.
    StorageError
        If the store cannot be read (unreachable, corrupt).
    """
    if path:
        return load_exported_model(Path(path))
    _connect(tracking_uri, create=False)
    with _fail_fast(tracking_uri):
        return load_registered_model(name, alias=alias, version=version)


def log_outcomes(
    tracking_uri: str, model_name: str, lists: Iterable[Mapping[str, Any]]
) -> int | None:
    """Log the realised metrics of matured lists to MLflow, against the model version that
    made each list.

    Each list becomes (or, on a later call, updates) one run of the experiment
    ``<model_name>-outcomes``, tagged ``churn.list_as_of``, ``churn.model_name`` and
    ``churn.model_version`` (and ``churn.training_run`` when known); its metrics are
    ``realised_*`` (customers not contacted), ``realised_all_*`` and ``effect_*``. The
    model version gets the newest list's figures as tags (``realised_roc_auc``,
    ``realised_calibration_error``, ``realised_as_of``) when the registry has it.

    Parameters
    ----------
    lists : iterable of mapping
        ``as_of`` (ISO date), ``model_version`` (str), ``run_id`` (the training run, or
        None) and ``metrics`` (name -> float or None; None is left out).

    Returns
    -------
    int or None
        The lists logged; ``None`` when the store does not exist (nothing is created).
    """
    if not _connect(tracking_uri, create=False):
        return None
    experiment = f"{model_name}-outcomes"
    logged = 0
    newest: dict[str, Mapping[str, Any]] = {}
    with _fail_fast(tracking_uri), _store_errors():
        client = MlflowClient()
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id if found is not None else client.create_experiment(experiment)
        )
        for entry in lists:
            as_of, version = str(entry["as_of"]), str(entry["model_version"])
            tags = {
                "churn.list_as_of": as_of,
                "churn.model_name": model_name,
                "churn.model_version": version,
            }
            query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
            existing = client.search_runs([experiment_id], filter_string=query, max_results=1)
            if entry.get("run_id"):
                tags["churn.training_run"] = str(entry["run_id"])
            if existing:
                run_id = existing[0].info.run_id
                for key, value in tags.items():
                    client.set_tag(run_id, key, value)
            else:
                run_id = client.create_run(
                    experiment_id, run_name=f"outcomes {as_of} v{version}", tags=tags
                ).info.run_id
            now = int(time.time() * 1000)
            metrics = [
                Metric(key, float(value), now, 0)
                for key, value in sorted(entry["metrics"].items())
                if value is not None
            ]
            client.log_batch(run_id, metrics=metrics)
            client.set_terminated(run_id)
            logged += 1
            if version not in newest or as_of > str(newest[version]["as_of"]):
                newest[version] = entry
        for version, entry in newest.items():
            try:
                client.get_model_version(model_name, version)
            except MlflowException:
                continue  # a model loaded from an exported folder, not in this registry
            client.set_model_version_tag(model_name, version, "realised_as_of", str(entry["as_of"]))
            for key in ("roc_auc", "calibration_error"):
                value = entry["metrics"].get(f"realised_{key}")
                if value is not None:
                    client.set_model_version_tag(
                        model_name, version, f"realised_{key}", f"{float(value):.4f}"
                    )
    return logged


# --- the uplift model ----------------------------------------------------------------------


def uplift_model_name(churn_model: str) -> str:
    """The registered name of a shop's uplift model, beside its churn model's."""
    return f"{churn_model}-uplift"


@dataclass(frozen=True)
class RegisteredUplift:
    """An uplift model loaded from the registry, with where it came from."""

    model: Any  # churn.uplift.model.UpliftModel
    name: str
    version: str
    run_id: str


def log_uplift_run(
    *,
    run_name: str | None,
    config: Mapping[str, Any],
    metrics: Mapping[str, float],
    model: Any,
    input_example: pd.DataFrame,
    artifacts: Iterable[Path],
    registered_model_name: str,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """Log one uplift training run and register its model (an MLflow pyfunc whose
    ``predict`` is the uplift); returns ``(run_id, model_version)``."""
    with _store_errors(), mlflow.start_run(run_name=run_name) as run:
        if tags:
            mlflow.set_tags(dict(tags))
        mlflow.log_params({k: str(v)[:500] for k, v in _flatten("", config)})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        for path in artifacts:
            mlflow.log_artifact(str(path))
        example = input_example[list(model.feature_names)].head(5)
        signature = infer_signature(example, model.predict_uplift(example))
        with tempfile.TemporaryDirectory() as tmp:
            saved = model.save(Path(tmp) / "uplift")
            info = _log_pyfunc(
                saved,
                signature,
                example,
                registered_model_name,
                code="uplift_pyfunc.py",
                artifact="uplift",
            )
        return run.info.run_id, str(info.registered_model_version)


def load_uplift_model(tracking_uri: str, name: str, alias: str = CHAMPION) -> RegisteredUplift:
    """The uplift model with ``alias`` in the store at ``tracking_uri`` (never created).

    Raises
    ------
    NoModelError
        If there is no store, no such model or alias, or it does not load as an uplift
        model; the message says what to do.
    StorageError
        If the store cannot be read.
    """
    if not _connect(tracking_uri, create=False):
        raise NoModelError(f"no uplift model '{name}': no MLflow store at {tracking_uri}")
    with _fail_fast(tracking_uri):
        client = MlflowClient()
        try:
            with _store_errors():
                mv = client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            raise NoModelError(
                f"no uplift model '{name}' with alias @{alias} in {tracking_uri}: train one "
                "from past lists with `churn uplift` (it needs matured lists with a control "
                "group, score.control_fraction > 0)"
            ) from exc
        try:
            with _store_errors():
                wrapper = mlflow.pyfunc.load_model(
                    f"models:/{name}/{mv.version}"
                ).unwrap_python_model()
            model = wrapper.uplift
        except StorageError:
            raise
        except Exception as exc:
            raise NoModelError(
                f"uplift model '{name}' version {mv.version} cannot be loaded "
                f"({_first_line(exc)}); retrain it with `churn uplift`"
            ) from exc
    return RegisteredUplift(model=model, name=name, version=str(mv.version), run_id=mv.run_id)
