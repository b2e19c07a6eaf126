"""The pages people read: the evaluation report, the scoring summary, the retention
report and their charts (HTML, English and Italian).

May import the domain packages below it; never MLflow.
"""
