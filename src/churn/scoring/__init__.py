"""From probabilities to a list a marketer acts on: selection of the at-risk customers,
reasons in plain words (SHAP), and drift of the scored population.

May import :mod:`churn.errors`, :mod:`churn.features`, :mod:`churn.modeling`.
"""
