"""Uplift: ranking customers by the effect of contacting them, learned from past
campaigns with a control group, rather than by their risk alone.

- :mod:`.metrics`: Qini and uplift curves, the Qini coefficient, uplift at k, a bootstrap
  comparison of two rankings, and what a budget buys by uplift, by risk and at random
  (scikit-uplift's definitions, in numpy);
- :mod:`.model`: the uplift model, an S-learner over LightGBM (a T-learner for
  comparison), with a lossless save and load;
- :mod:`.hillstrom`: the Hillstrom e-mail experiment, a real randomised campaign, as a
  features table.

Pure logic: no MLflow; files only where a function takes a path (a model's folder, the
Hillstrom export). May import :mod:`churn.errors`.
"""
