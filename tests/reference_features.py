"""A slow, obviously correct pandas version of every registry feature, for comparison.

One customer at a time, one feature at a time, straight from the definitions in
docs/features.md. Used only by the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.features.btyd import expected_purchases, fit_bgnbd, p_no_purchase


def reference_shop(n_customers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A generated shop over 400 days with gaps in the optional columns, as real exports
    have, and a customers table whose sign-ups fall before, between and after cutoffs."""
    from churn.data.synth import ShopSpec, generate_transactions

    tx = generate_transactions(ShopSpec(n_customers=n_customers, days=400, seed=21))
    rng = np.random.default_rng(4)
    tx.loc[rng.random(len(tx)) < 0.05, "category"] = None
    tx.loc[rng.random(len(tx)) < 0.05, "channel"] = None
    ids = tx["customer_id"].unique()
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_ts": pd.Timestamp("2022-06-01")
            + pd.to_timedelta(rng.integers(0, 600 * 86400, len(ids)), unit="s"),
        }
    )
    return tx, customers


def _safe_div(a: float, b: float) -> float:
    return np.nan if b == 0 or pd.isna(b) or pd.isna(a) else a / b


def _std(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else np.nan


def reference_features(
    tx: pd.DataFrame,
    as_of: str,
    windows: list[int],
    lookback: int = 365,
    customers: pd.DataFrame | None = None,
    horizon: int | None = None,
) -> pd.DataFrame:
    """Every feature for every customer in the population at ``as_of``.

    With ``horizon``, also the BG/NBD features: a model fitted on every customer seen so
    far (repeat order days, day of the last one and age, in days) by :mod:`churn.features.btyd`.
    """
    cutoff = pd.Timestamp(as_of)
    seen = tx[tx["ts"] < cutoff + pd.Timedelta(days=1)].copy()
    seen["age"] = (cutoff - seen["ts"].dt.normalize()).dt.days
    btyd = {}
    if horizon:
        days = seen[seen["amount"] > 0].groupby("customer_id")["age"].agg(["min", "max", "nunique"])
        x = (days["nunique"] - 1).to_numpy(float)
        t_x = (days["max"] - days["min"]).to_numpy(float)
        age = days["max"].to_numpy(float)
        params = fit_bgnbd(x, t_x, age)
        btyd = {
            "bgnbd_p_no_order": dict(
                zip(days.index, p_no_purchase(params, x, t_x, age, horizon), strict=True)
            ),
            "bgnbd_expected_orders": dict(
                zip(days.index, expected_purchases(params, x, t_x, age, horizon), strict=True)
            ),
        }
    rows = []
    for cid, lines in seen.groupby("customer_id"):
        bought = lines[lines["amount"] > 0]
        if bought.empty:
            continue
        orders = bought.groupby("order_id").agg(
            ts=("ts", "min"),
            value=("amount", "sum"),
            n_lines=("amount", "size"),
            items=("quantity", "sum"),
            discounted=("discount", lambda d: int((d > 0).any())),
        )
        orders["age"] = (cutoff - orders["ts"].dt.normalize()).dt.days
        orders = orders.reset_index().sort_values(["ts", "order_id"])
        gaps = orders["ts"].dt.normalize().diff().dt.days
        last = orders.iloc[-1]
        o365 = orders[orders["age"] < 365]
        l365 = lines[lines["age"] < 365]
        r = {"customer_id": cid, "days_since_last_order": float(orders["age"].min())}
        for w in windows:
            r[f"orders_{w}d"] = float((orders["age"] < w).sum())
            r[f"spend_{w}d"] = float(lines.loc[lines["age"] < w, "amount"].sum())
        r["orders_total"] = float(len(orders))
        r["spend_total"] = float(lines["amount"].sum())
        r["active_months_365d"] = float(o365["age"].floordiv(30).nunique())
        r["tenure_days"] = float(orders["age"].max())
        r["mean_gap_days"] = float(gaps.mean()) if len(orders) > 1 else np.nan
        r["std_gap_days"] = _std(gaps.dropna())
        r["last_gap_days"] = float(gaps.iloc[-1]) if len(orders) > 1 else np.nan
        r["max_gap_days"] = float(gaps.max()) if len(orders) > 1 else np.nan
        r["overdue_ratio"] = _safe_div(r["days_since_last_order"], r["mean_gap_days"])
        r["orders_prev_90d"] = float(orders["age"].between(90, 179).sum())
        r["orders_change_90d"] = r["orders_90d"] - r["orders_prev_90d"]
        r["spend_prev_90d"] = float(lines.loc[lines["age"].between(90, 179), "amount"].sum())
        r["spend_change_90d"] = r["spend_90d"] - r["spend_prev_90d"]
        r["spend_ratio_90d"] = _safe_div(r["spend_90d"], round(r["spend_prev_90d"], 6))
        r["basket_value_mean_365d"] = float(o365["value"].mean()) if len(o365) else np.nan
        r["basket_value_std_365d"] = _std(o365["value"])
        r["basket_value_max_365d"] = float(o365["value"].max()) if len(o365) else np.nan
        r["last_basket_value"] = float(last["value"])
        r["last_basket_vs_mean"] = _safe_div(r["last_basket_value"], r["basket_value_mean_365d"])
        r["basket_lines_mean_365d"] = float(o365["n_lines"].mean()) if len(o365) else np.nan
        r["basket_items_mean_365d"] = float(o365["items"].mean()) if len(o365) else np.nan
        returns = lines[lines["amount"] < 0]
        r["returns_count_365d"] = float((returns["age"] < 365).sum())
        r["returns_share_365d"] = _safe_div(
            -returns.loc[returns["age"] < 365, "amount"].sum(),
            l365.loc[l365["amount"] > 0, "amount"].sum(),
        )
        r["returns_90d"] = float((returns["age"] < 90).sum())
        r["days_since_last_return"] = float(returns["age"].min()) if len(returns) else np.nan
        r["discount_order_share_365d"] = float(o365["discounted"].mean()) if len(o365) else np.nan
        bought365 = l365[l365["amount"] > 0]
        r["discounted_spend_share_365d"] = _safe_div(
            bought365.loc[bought365["discount"] > 0, "amount"].sum(), bought365["amount"].sum()
        )
        r["discount_amount_365d"] = float(l365.loc[l365["discount"] > 0, "discount"].sum())
        disc_orders = orders[orders["discounted"] == 1]
        r["days_since_last_discount"] = (
            float(disc_orders["age"].min()) if len(disc_orders) else np.nan
        )
        r["last_order_discounted"] = float(last["discounted"])
        cats = bought365["category"].dropna().value_counts()
        shares = cats / cats.sum()
        r["categories_distinct_365d"] = float(len(cats)) if len(cats) else np.nan
        r["category_entropy_365d"] = (
            float(-(shares * np.log(shares)).sum()) if len(cats) else np.nan
        )
        r["top_category_share_365d"] = float(shares.max()) if len(cats) else np.nan
        r["products_distinct_365d"] = float(bought365["product_id"].nunique())
        chans = bought365.dropna(subset=["channel"]).groupby("channel")["order_id"].nunique()
        r["channels_distinct_365d"] = float(len(chans)) if len(chans) else np.nan
        r["top_channel_share_365d"] = float(chans.max() / chans.sum()) if len(chans) else np.nan
        weekend = o365["ts"].dt.dayofweek.isin([5, 6]).astype(float)
        r["weekend_order_share_365d"] = float(weekend.mean()) if len(o365) else np.nan
        hours = o365["ts"].dt.hour
        r["order_hour_mean_365d"] = float(hours.mean()) if len(o365) else np.nan
        r["order_hour_std_365d"] = _std(hours)
        r["weekdays_distinct_365d"] = float(o365["ts"].dt.dayofweek.nunique())
        if customers is not None:
            signup = customers.set_index("customer_id")["signup_ts"].get(cid)
            r["account_age_days"] = (
                float((cutoff - signup.normalize()).days)
                if signup is not None
                and pd.notna(signup)
                and signup < cutoff + pd.Timedelta(days=1)
                else np.nan
            )
        for name, values in btyd.items():
            r[name] = float(values[cid])
        if r["days_since_last_order"] < lookback:
            rows.append(r)
    return pd.DataFrame(rows)
