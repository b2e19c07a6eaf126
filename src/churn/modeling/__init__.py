"""Learning the churn model honestly: labels, the time-based snapshot schedule, the
LightGBM classifier and its calibration, baselines, evaluation over test origins and the
promotion gate.

May import :mod:`churn.errors`, :mod:`churn.features`; no file or MLflow access.
"""
