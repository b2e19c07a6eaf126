"""Outcomes of past at-risk lists: did they come true, and what did the campaign change.

- :mod:`churn.outcomes.windows`: each listed customer's outcome after the list's date
  (churned, responded, converted, revenue), in one query on the engine's tables;
- :mod:`churn.outcomes.arms`: who counts as contacted and who as control, from the list's
  draw and the contact log;
- :mod:`churn.outcomes.measure`: realised against predicted churn, and the campaign's
  effect, contacted against control, with 95% intervals (:mod:`churn.outcomes.stats`).

The stage that reads the stored runs and writes ``outcomes.csv`` and ``outcomes.html`` is
:mod:`churn.stages.outcomes`.
"""
