"""Everything that talks to MLflow: runs, the logged model, the registry and its aliases.

Other modules return plain dicts and objects; only this module imports :mod:`mlflow`.
The logged model is a pyfunc defined by code (:mod:`churn.pyfunc_model`, MLflow's
"models from code") around the classifier saved in LightGBM's text format, so no pickle is
involved. Its ``predict`` returns churn probabilities; the full
:class:`~churn.model.ChurnClassifier` (with SHAP contributions) is recovered by
:func:`load_registered_model`. Loading it needs the ``churn`` package installed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from churn.errors import NoModelError
from churn.gate import CHAMPION
from churn.model import ChurnClassifier

log = logging.getLogger(__name__)

EVALUATION_MODEL = "evaluation_model"


@dataclass(frozen=True)
class RegisteredModel:
    """A model loaded from the registry, with where it came from."""

    classifier: ChurnClassifier
    name: str
    version: str
    run_id: str


def start(tracking_uri: str, experiment: str, artifact_root: str | None = None) -> str:
    """Point MLflow at ``tracking_uri`` and make sure the experiment exists.

    A new experiment stores its artifacts under ``artifact_root`` (a local folder or a
    URI) when given. Returns the experiment id.
    """
    # Artifact progress bars would clutter batch-job logs.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    existing = client.get_experiment_by_name(experiment)
    if existing is not None:
        experiment_id = existing.experiment_id
    else:
        location = None
        if artifact_root:
            location = (
                artifact_root if "://" in artifact_root else Path(artifact_root).resolve().as_uri()
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
    with mlflow.start_run(run_name=run_name) as run:
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
    saved: Path, signature: Any, example: pd.DataFrame, registered_name: str | None
) -> Any:
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc_model.py")),
        artifacts={"classifier": str(saved)},
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
    for path in paths:
        client.log_artifact(run_id, str(path))


def record_gate(name: str, version: str, run_id: str, alias: str, tags: Mapping[str, str]) -> None:
    """Give ``version`` its alias, and put the gate's verdict on the version and the run
    as tags."""
    client = MlflowClient()
    client.set_registered_model_alias(name, alias, version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
        client.set_tag(run_id, key, value)


@dataclass(frozen=True)
class ChampionReference:
    """The current champion as the gate compares with it: the model evaluated before its
    final refit (or the registered one for versions logged without it), and the last
    date whose outcome that model saw in training."""

    classifier: ChurnClassifier
    version: str
    labels_end: str | None
    evaluated_model: bool


def champion_reference(name: str) -> ChampionReference | None:
    """The current ``champion`` of ``name`` for the promotion gate, or ``None`` when the
    model has no champion yet."""
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path=EVALUATION_MODEL, dst_path=tmp
            )
            classifier = ChurnClassifier.load(folder)
        evaluated = True
    except (MlflowException, OSError):
        classifier = load_registered_model(name, version=mv.version).classifier
        evaluated = False
    return ChampionReference(
        classifier=classifier,
        version=str(mv.version),
        labels_end=(mv.tags or {}).get("evaluation_labels_end" if evaluated else "labels_end"),
        evaluated_model=evaluated,
    )


def load_registered_model(
    name: str, alias: str | None = None, version: str | int | None = None
) -> RegisteredModel:
    """Load a registered version by number, or else by alias.

    Raises
    ------
    NoModelError
        If the registry has no such model, version or alias.
    """
    client = MlflowClient()
    try:
        if version is not None:
            mv = client.get_model_version(name, str(version))
        else:
            mv = client.get_model_version_by_alias(name, alias or CHAMPION)
    except MlflowException as exc:
        wanted = f"version {version}" if version is not None else f"alias @{alias or CHAMPION}"
        raise NoModelError(
            f"no registered model '{name}' with {wanted} in {mlflow.get_tracking_uri()}: "
            f"run `make train` first, or choose another with model.version=N / model.alias=NAME"
        ) from exc
    try:
        wrapper = mlflow.pyfunc.load_model(f"models:/{name}/{mv.version}").unwrap_python_model()
        wrapper.classifier  # noqa: B018 - fails here if the model is not a churn model
    except Exception as exc:
        raise NoModelError(
            f"model '{name}' version {mv.version} cannot be loaded as a churn model ({exc}); "
            "retrain with `make train` or pick another with model.version=N"
        ) from exc
    return RegisteredModel(
        classifier=wrapper.classifier, name=name, version=str(mv.version), run_id=mv.run_id
    )


def spark_udf(spark: Any, name: str, version: str) -> Any:
    """MLflow's Spark UDF of a registered version: the churn probability of each row (the
    model's feature columns in, a double out), run in the workers' own Python."""
    return mlflow.pyfunc.spark_udf(
        spark, f"models:/{name}/{version}", result_type="double", env_manager="local"
    )
