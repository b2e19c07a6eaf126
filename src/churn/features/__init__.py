"""Point-in-time customer features: the registry (one entry per feature, the single
source of truth), the SQL query built from it, and the BG/NBD purchase-rhythm model.

May import :mod:`churn.errors`, :mod:`churn.engines`.
"""
