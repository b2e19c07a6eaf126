"""Stage orchestration: each module has ``run(cfg)``, called by the ``churn`` command
(:mod:`churn.cli`), ``pipelines/*.py`` and tests.

Stages read and write files and call MLflow; the logic they orchestrate lives in the
pure modules of :mod:`churn`.
"""
