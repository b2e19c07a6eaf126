"""The engines that run the SQL: DuckDB (one machine) and Apache Spark (a cluster).

May import :mod:`churn.errors` only; everything above reaches an engine through here.
"""
