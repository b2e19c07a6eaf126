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
from churn.model import ChurnClassifier

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


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
    input_example: pd.DataFrame,
    artifacts: Iterable[Path],
    registered_model_name: str,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """Log one training run and register its model; returns ``(run_id, model_version)``.

    The run gets the flattened config as params, the metrics, the given artifact files
    and the model (pyfunc, with signature and input example), registered under
    ``registered_model_name``.
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
            saved = classifier.save(Path(tmp) / "classifier")
            info = _log_pyfunc(saved, signature, example, registered_model_name)
        return run.info.run_id, str(info.registered_model_version)


def _log_pyfunc(saved: Path, signature: Any, example: pd.DataFrame, registered_name: str) -> Any:
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


def assign_alias(name: str, version: str) -> str:
    """Give ``version`` the ``champion`` alias if no version has it yet, else ``challenger``.

    The real promotion gate (floors, comparison with the champion) replaces this rule
    later; returns the alias given.
    """
    client = MlflowClient()
    try:
        client.get_model_version_by_alias(name, CHAMPION)
        alias = CHALLENGER
    except MlflowException:
        alias = CHAMPION
    client.set_registered_model_alias(name, alias, version)
    return alias


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
