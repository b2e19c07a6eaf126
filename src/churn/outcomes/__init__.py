"""Outcomes of past at-risk lists: did they come true, and what did the campaign change.

- :mod:`.windows`: each listed customer's outcome after the list's date (churned,
  responded, converted, revenue), in one query on the engine's tables;
- :mod:`.arms`: who counts as contacted and who as control, from the list's draw
  (:mod:`churn.scoring.control`) and the contact log;
- :mod:`.measure`: realised against predicted churn, and the campaign's effect, contacted
  against control, with 95% intervals (:mod:`.stats`).

The stage that reads the stored lists and writes ``outcomes.csv`` and ``outcomes.html`` is
:mod:`churn.stages.outcomes`; the page is :mod:`churn.reporting.outcomes_page`.

May import :mod:`churn.errors`, :mod:`churn.modeling` (the evaluation metrics) and
:mod:`churn.scoring` (the segments).
"""
