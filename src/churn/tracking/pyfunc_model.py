"""MLflow "models from code" definition of the logged churn model.

MLflow runs this file when it logs or loads the model (never imported by the package):
``load_context`` reads the :class:`~churn.modeling.model.ChurnClassifier` saved as an artifact,
``predict`` returns churn probabilities.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd

from churn.modeling.model import ChurnClassifier


class ChurnPyfunc(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: ``predict`` gives the churn probability of each row."""

    classifier: ChurnClassifier

    def load_context(self, context: Any) -> None:
        """Load the classifier from the model's ``classifier`` artifact folder."""
        self.classifier = ChurnClassifier.load(context.artifacts["classifier"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.Series:
        """Churn probabilities for a frame holding the model's feature columns."""
        return pd.Series(self.classifier.predict_proba(model_input), name="p_churn")


mlflow.models.set_model(ChurnPyfunc())
