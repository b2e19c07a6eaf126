"""From probabilities to a list a marketer acts on: selection of the at-risk customers,
reasons in plain words by theme (exact SHAP summed per theme, :mod:`.themes`; the sentences,
:mod:`.reasons`), the likely cause and next best action (:mod:`.actions`), and drift of the
scored population.

May import :mod:`churn.errors`, :mod:`churn.features`, :mod:`churn.modeling`,
:mod:`churn.text` (the words and their formatting).
"""
