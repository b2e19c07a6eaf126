"""A simulated shop: deterministic demo transactions with planted churn drivers.

The generator produces order lines in the canonical layout of the data contract
(``customer_id, order_id, ts, amount, quantity, product_id, category, discount,
channel``). It is meant for demos, tests and benchmarks; the same ``seed`` always gives
the same table.

How customers behave
--------------------
* **Arrivals**: a launch base of customers arrives in the first month, the rest arrive
  over the whole period at a growing rate, so new customers keep appearing. A customer's
  first order is their arrival.
* **Heterogeneity**: each customer has their own purchase rate (gamma distributed,
  about one order a month on average), basket breadth (lines per order), quantities,
  category preferences, preferred channel and preferred hour of the day.
* **Seasonality**: the purchase rate follows a yearly wave and rises in December;
  promotion periods (winter sale in January, summer sale from late June, Black Friday
  to early December) raise it further for price-sensitive customers.

The hidden churn process (the planted drivers)
----------------------------------------------
After every order a customer may leave for good (a buy-till-you-die process). The
probability of leaving after an order is a personal base rate (beta distributed, about
4 %) plus:

1. **Bad experience**: ``+RETURN_HAZARD`` if the order had a return (a negative row a
   few days later), ``+LATE_HAZARD`` if its delivery was late. Late deliveries are not
   in the data (only web and app orders can be late, and a late order is returned more
   often), so the model can only see them through returns and channel.
2. **Price sensitivity once discounts stop**: price-sensitive customers (30 %) get
   discounts in promotion periods; each later order they pay in full adds
   ``+FULL_PRICE_HAZARD``.
3. **Fading engagement**: a share of customers (40 %) slowly lose interest; their
   purchase rate decays exponentially with their tenure, so their gaps stretch out
   before they stop altogether.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

RETURN_HAZARD = 0.15
LATE_HAZARD = 0.12
FULL_PRICE_HAZARD = 0.05

CATEGORIES = (
    "grocery",
    "household",
    "beauty",
    "baby",
    "pets",
    "electronics",
    "clothing",
    "home",
    "sports",
    "books",
)
CHANNELS = ("web", "app", "store")
PRODUCTS_PER_CATEGORY = 40
# (month, day) ranges of the yearly promotions, inclusive.
PROMOTIONS = (((1, 5), (1, 31)), ((6, 20), (7, 15)), ((11, 15), (12, 5)))


@dataclass(frozen=True)
class ShopSpec:
    """Size and period of a simulated shop.

    Parameters
    ----------
    n_customers : int
        Number of customers who ever place an order.
    start : str
        First day of trading (ISO date).
    days : int
        Length of the trading period in days (3 years by default).
    seed : int
        Seed of the random generator; the same spec gives the same table.
    """

    n_customers: int = 20_000
    start: str = "2023-01-01"
    days: int = 3 * 365
    seed: int = 7


def _promo_mask(dates: pd.DatetimeIndex) -> np.ndarray:
    month_day = dates.month * 100 + dates.day
    mask = np.zeros(len(dates), dtype=bool)
    for (m0, d0), (m1, d1) in PROMOTIONS:
        mask |= (month_day >= m0 * 100 + d0) & (month_day <= m1 * 100 + d1)
    return mask


def _season(dates: pd.DatetimeIndex) -> np.ndarray:
    doy = dates.day_of_year.to_numpy()
    wave = 1.0 + 0.2 * np.sin(2 * np.pi * (doy - 80) / 365.0)
    december = np.where(dates.month == 12, 1.4, 1.0)
    return wave * december


def _simulate_orders(spec: ShopSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Simulate orders (one row per order) with the hidden churn process."""
    n, days = spec.n_customers, spec.days
    day_index = pd.date_range(spec.start, periods=days + 1, freq="D")
    promo = _promo_mask(day_index)
    season = _season(day_index)

    launch = rng.random(n) < 0.2
    # Growth: arrival density rises linearly, f(x) = 0.5 + x on [0, 1] (inverse CDF).
    ramp = np.sqrt(0.25 + 2 * rng.random(n)) - 0.5
    arrival = np.where(launch, rng.uniform(0, 30, n), ramp * (days - 1))
    rate = rng.gamma(shape=1.3, scale=1 / 40, size=n)  # orders per day
    dropout = rng.beta(1.0, 24.0, size=n)
    price_sensitive = rng.random(n) < 0.3
    fade = np.where(rng.random(n) < 0.4, rng.uniform(0.6, 2.5, n), 0.0)  # per year
    channel_pref = rng.dirichlet([2.0, 1.0, 1.5], size=n)

    rows: list[tuple[int, float, int, float, bool, bool]] = []
    for c in range(n):
        t = arrival[c]
        had_discount = False
        cum_channel = np.cumsum(channel_pref[c])
        while t < days:
            d = int(t)
            channel = int(np.searchsorted(cum_channel, rng.random()))
            in_promo = bool(promo[d])
            p_discount = (0.85 if price_sensitive[c] else 0.25) if in_promo else 0.03
            discount = float(rng.uniform(0.1, 0.3)) if rng.random() < p_discount else 0.0
            late = channel != 2 and rng.random() < 0.08
            returned = rng.random() < (0.35 if late else 0.05)
            rows.append((c, t, channel, discount, late, returned))

            hazard = dropout[c]
            hazard += RETURN_HAZARD * returned + LATE_HAZARD * late
            if price_sensitive[c] and had_discount and discount == 0.0:
                hazard += FULL_PRICE_HAZARD
            had_discount |= discount > 0
            if rng.random() < hazard:
                break

            tenure_years = (t - arrival[c]) / 365.0
            intensity = rate[c] * np.exp(-fade[c] * tenure_years) * season[d]
            if price_sensitive[c] and in_promo:
                intensity *= 1.8
            t += max(rng.exponential(1.0 / intensity), 1.0)

    orders = pd.DataFrame(
        rows, columns=["customer", "t", "channel", "discount_rate", "late", "returned"]
    )
    orders["price_sensitive"] = price_sensitive[orders["customer"].to_numpy()]
    return orders


def generate_transactions(spec: ShopSpec | None = None) -> pd.DataFrame:
    """Generate the order lines of a simulated shop.

    Parameters
    ----------
    spec : ShopSpec, optional
        Size, period and seed; defaults to 20,000 customers over 3 years.

    Returns
    -------
    pandas.DataFrame
        One row per order line or return, canonical columns, sorted by ``ts``. Returns
        are separate rows with negative ``amount`` and ``quantity`` and order id
        ``R<order_id>``, dated 3-20 days after the order.
    """
    spec = spec or ShopSpec()
    rng = np.random.default_rng(spec.seed)
    orders = _simulate_orders(spec, rng)
    n = spec.n_customers

    # Customer habits that shape the order lines.
    lines_mean = rng.gamma(2.0, 0.7, size=n)
    qty_mean = rng.gamma(1.5, 0.5, size=n)
    hour_pref = rng.normal(15, 3.5, size=n)
    cat_cum = np.cumsum(rng.dirichlet(np.full(len(CATEGORIES), 0.4), size=n), axis=1)

    n_products = len(CATEGORIES) * PRODUCTS_PER_CATEGORY
    cat_price = rng.uniform(2.0, 25.0, len(CATEGORIES))
    product_price = np.round(
        np.repeat(cat_price, PRODUCTS_PER_CATEGORY) * rng.lognormal(0, 0.5, n_products), 2
    )

    cust = orders["customer"].to_numpy()
    hours = np.clip(rng.normal(hour_pref[cust], 2.0), 0, 23.99)
    day = np.floor(orders["t"].to_numpy())
    seconds = np.round((day * 24 + hours) * 3600).astype("int64")
    order_ts = pd.Timestamp(spec.start) + pd.to_timedelta(seconds, unit="s")
    order_ids = np.char.add("O", np.arange(1, len(orders) + 1).astype(str))

    n_lines = 1 + rng.poisson(lines_mean[cust])
    line_order = np.repeat(np.arange(len(orders)), n_lines)
    line_cust = cust[line_order]
    u = rng.random(len(line_order))
    cat = np.minimum((u[:, None] > cat_cum[line_cust]).sum(axis=1), len(CATEGORIES) - 1)
    product = cat * PRODUCTS_PER_CATEGORY + rng.integers(0, PRODUCTS_PER_CATEGORY, len(cat))
    quantity = 1 + rng.poisson(qty_mean[line_cust])
    gross = quantity * product_price[product]
    discount = np.round(gross * orders["discount_rate"].to_numpy()[line_order], 2)
    amount = np.round(gross - discount, 2)

    lines = pd.DataFrame(
        {
            "customer_id": np.char.add("C", np.char.zfill((line_cust + 1).astype(str), 6)),
            "order_id": order_ids[line_order],
            "ts": order_ts[line_order],
            "amount": amount,
            "quantity": quantity.astype("float64"),
            "product_id": np.char.add("P", np.char.zfill(product.astype(str), 4)),
            "category": np.asarray(CATEGORIES)[cat],
            "discount": discount,
            "channel": np.asarray(CHANNELS)[orders["channel"].to_numpy()[line_order]],
        }
    )

    # A product appears once per order (no identical lines, which ingest would drop).
    lines = lines.drop_duplicates(["order_id", "product_id"], ignore_index=True)
    n_lines = lines.groupby("order_id", sort=False).size().reindex(order_ids).to_numpy()

    # One returned line per returned order: its first line, a few days later.
    first_line = np.r_[0, np.cumsum(n_lines)[:-1]]
    returned = orders["returned"].to_numpy()
    ret = lines.iloc[first_line[returned]].copy()
    ret["order_id"] = "R" + ret["order_id"]
    ret["ts"] = ret["ts"] + pd.to_timedelta(rng.uniform(3, 20, len(ret)) * 86400, unit="s")
    ret["ts"] = ret["ts"].dt.floor("s")
    ret[["amount", "quantity", "discount"]] *= -1
    ret["discount"] = 0.0

    end = pd.Timestamp(spec.start) + pd.Timedelta(days=spec.days)
    out = pd.concat([lines, ret], ignore_index=True)
    out = out[out["ts"] < end]
    out["ts"] = out["ts"].astype("datetime64[us]")
    return out.sort_values(["ts", "customer_id", "order_id"], kind="stable").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    """Command line: write a simulated shop to a Parquet file."""
    parser = argparse.ArgumentParser(
        prog="churn demo-data",
        description="Write the demo shop's transactions (canonical columns) to Parquet.",
    )
    parser.add_argument("--out", type=Path, default=Path("data/demo/transactions.parquet"))
    parser.add_argument("--customers", type=int, default=ShopSpec.n_customers)
    parser.add_argument("--start", default=ShopSpec.start, help="first day, YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=ShopSpec.days)
    parser.add_argument("--seed", type=int, default=ShopSpec.seed)
    args = parser.parse_args(argv)

    spec = ShopSpec(n_customers=args.customers, start=args.start, days=args.days, seed=args.seed)
    table = generate_transactions(spec)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(args.out)
    print(
        f"wrote {args.out}: {len(table):,} rows, {table['customer_id'].nunique():,} customers, "
        f"{table['ts'].min():%Y-%m-%d} to {table['ts'].max():%Y-%m-%d}"
    )


if __name__ == "__main__":
    main()
