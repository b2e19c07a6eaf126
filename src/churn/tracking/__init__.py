"""MLflow, and only here: runs, the model registry and its aliases, the logged pyfunc
model, and the team tracking server.

May import :mod:`churn.errors`, :mod:`churn.modeling`.
"""
