"""Errors that stop a stage, each with the process exit code of the command-line contract.

========  ====================================================
exit code  meaning
========  ====================================================
2          usage or configuration error
3          input data violates the data contract
4          drift gate tripped
5          no usable model (for example no ``champion`` yet)
6          a file, folder or store cannot be read or written (permissions, full
           disk, a corrupt or unreachable MLflow store)
7          retrain: the model's realised ROC AUC or calibration error on
           lists whose horizon has passed fails its threshold
           (``churn outcomes``; its outputs are written all the same)
========  ====================================================
"""

from __future__ import annotations


class ChurnError(Exception):
    """Base class: a failure the user can act on, with a distinct exit code."""

    exit_code = 1


class ConfigError(ChurnError):
    """The configuration or the command line asks for something impossible."""

    exit_code = 2


class DataContractError(ChurnError):
    """The input data breaks the data contract (missing column, wrong type, empty file)."""

    exit_code = 3


class DriftError(ChurnError):
    """The input drifted too far from the training data for scores to be trusted."""

    exit_code = 4


class NoModelError(ChurnError):
    """No usable registered model (for example no version carries the alias asked for)."""

    exit_code = 5


class StorageError(ChurnError):
    """A file, folder or tracking store cannot be read or written: permissions, a full
    disk, a corrupt or unreachable MLflow store. Not the input data's fault, and not fixed
    by changing a setting; the message says what to check."""

    exit_code = 6


class RetrainNeeded(ChurnError):
    """The lists a model made came out worse than its thresholds allow (realised ROC AUC
    below ``gate.min_roc_auc``, or calibration error above
    ``outcomes.max_calibration_error``): the scheduler should retrain. The outcomes are
    written before it is raised."""

    exit_code = 7
