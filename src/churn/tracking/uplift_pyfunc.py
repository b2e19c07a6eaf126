"""MLflow "models from code" definition of the logged uplift model.

MLflow runs this file when it logs or loads the model (never imported by the package):
``load_context`` reads the :class:`~churn.uplift.model.UpliftModel` saved as an artifact,
``predict`` returns each customer's uplift (how much a contact raises their chance of the
outcome: of staying, for a churn list).
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd

from churn.uplift.model import UpliftModel


class UpliftPyfunc(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: ``predict`` gives the uplift of each row."""

    uplift: UpliftModel

    def load_context(self, context: Any) -> None:
        """Load the model from its ``uplift`` artifact folder."""
        self.uplift = UpliftModel.load(context.artifacts["uplift"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.Series:
        """Uplift for a frame holding the model's feature columns."""
        return pd.Series(self.uplift.predict_uplift(model_input), name="uplift")


mlflow.models.set_model(UpliftPyfunc())
