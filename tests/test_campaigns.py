"""Simulated campaigns: planted effects on the contacted customers only, a contact log as a
campaign tool exports it, and ground truth that agrees with the churn label."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from churn.data.campaigns import (
    CampaignEffects,
    customer_facts,
    main,
    simulate_campaign,
    simulate_campaigns,
    true_effect,
)
from churn.data.synth import ShopSpec, generate_transactions
from churn.errors import ConfigError, DataContractError
from churn.modeling.labels import make_labels
from tests.conftest import connect_to

AS_OF = dt.date(2024, 3, 31)
CONTACT = pd.Timestamp("2024-04-01 09:00")
# Every would-be leaver at churn probability 0.5 is kept, every would-be stayer at 0 put off.
CERTAIN = CampaignEffects(
    persuadable=1.0, sleeping_dog=1.0, persuadable_by_segment={}, sleeping_dog_by_segment={}
)


def small_shop() -> pd.DataFrame:
    rows = [
        # A (contact, would churn): its last order before as_of is a1, two lines.
        ("A", "a0", "2024-01-05 10:00", 20.0, "P1"),
        ("A", "a1", "2024-03-01 10:00", 10.0, "P2"),
        ("A", "a1", "2024-03-01 10:00", 5.0, "P3"),
        # B (contact, would stay): orders after the contact, and a return of one.
        ("B", "b1", "2024-03-10 12:00", 8.0, "P1"),
        ("B", "b2", "2024-04-20 12:00", 9.0, "P2"),
        ("B", "Rb2", "2024-04-25 12:00", -9.0, "P2"),
        ("B", "b3", "2024-06-01 12:00", 7.0, "P4"),
        # C (control, would stay) and E (control, would churn).
        ("C", "c1", "2024-02-01 12:00", 12.0, "P1"),
        ("C", "c2", "2024-05-01 12:00", 12.0, "P1"),
        ("E", "e1", "2024-03-20 12:00", 6.0, "P3"),
        # D (not selected) orders until the data's last day.
        ("D", "d1", "2024-03-15 12:00", 30.0, "P5"),
        ("D", "d2", "2024-12-31 12:00", 30.0, "P5"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "ts", "amount", "product_id"])
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[us]")
    frame["quantity"] = 1.0
    return frame.sort_values(["ts", "customer_id", "order_id"], kind="stable", ignore_index=True)


def small_list() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E"],
            "group": ["contact", "contact", "control", "not_selected", "control"],
            "churn_probability": [0.5, 0.0, 0.0, 0.3, 0.5],
            "segment": ["regular"] * 5,
            "risk_tier": ["medium", "low", "low", "low", "medium"],
        }
    )


@pytest.fixture(scope="module")
def certain_run():
    return simulate_campaign(small_shop(), small_list(), AS_OF, effects=CERTAIN)


def lines_of(frame: pd.DataFrame, *customers: str) -> pd.DataFrame:
    return frame[frame["customer_id"].isin(customers)].reset_index(drop=True)


def label(frame: pd.DataFrame, customer: str) -> int:
    population = pd.DataFrame({"customer_id": [customer], "as_of": [pd.Timestamp(AS_OF)]})
    return int(make_labels(connect_to(frame), population, 90, dt.date(2024, 12, 31)).iloc[0])


def test_a_kept_customer_gets_one_copy_of_their_last_order_inside_the_response_window(
    certain_run,
):
    before, after = lines_of(small_shop(), "A"), lines_of(certain_run.transactions, "A")
    new = after[~after["order_id"].isin(before["order_id"])]
    assert new["order_id"].unique().tolist() == ["K2024-03-31-1"]
    assert new["product_id"].tolist() == ["P2", "P3"]
    assert new["amount"].tolist() == [10.0, 5.0]
    assert new["ts"].nunique() == 1
    assert CONTACT + pd.Timedelta(days=1) <= new["ts"].iloc[0] < CONTACT + pd.Timedelta(days=14)


def test_a_kept_customer_is_no_longer_churned_by_the_label(certain_run):
    assert (label(small_shop(), "A"), label(certain_run.transactions, "A")) == (1, 0)


def test_a_put_off_customer_loses_every_line_from_the_contact_on(certain_run):
    after = lines_of(certain_run.transactions, "B")
    assert after["order_id"].tolist() == ["b1"]
    assert label(certain_run.transactions, "B") == 1


def test_control_and_not_selected_customers_are_untouched(certain_run):
    pd.testing.assert_frame_equal(
        lines_of(certain_run.transactions, "C", "D", "E"), lines_of(small_shop(), "C", "D", "E")
    )


def test_the_output_keeps_the_inputs_columns_types_and_order(certain_run):
    out = certain_run.transactions
    assert out.dtypes.to_dict() == small_shop().dtypes.to_dict()
    expected = out.sort_values(["ts", "customer_id", "order_id"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(out, expected)


def test_the_truth_names_each_kind_and_both_outcomes(certain_run):
    truth = certain_run.truth.set_index("customer_id")
    assert truth["kind"].to_dict() == {
        "A": "persuadable",
        "B": "sleeping_dog",
        "C": "sleeping_dog",
        "E": "persuadable",
    }
    assert truth["churned_if_control"].tolist() == [1, 0, 0, 1]
    assert truth["churned_if_contacted"].tolist() == [0, 1, 1, 0]
    # Realised: contacted customers (A, B) show the contacted outcome, controls the other.
    assert truth["churned"].tolist() == [0, 1, 0, 1]
    assert truth["responded"].tolist() == [1, 0, 0, 0]
    assert truth["risk_tier"].tolist() == ["medium", "low", "low", "medium"]


def test_the_log_has_one_row_per_contact_and_control_customer(certain_run):
    log = certain_run.contacts
    assert log["customer_id"].tolist() == ["A", "B", "C", "E"]
    assert log["group"].tolist() == ["contact", "contact", "control", "control"]
    assert set(log["campaign"]) == {"retention-2024-03-31"}
    assert set(log["contacted_at"]) == {CONTACT}


def test_true_effect_by_kind_is_worked_out_from_the_truth(certain_run):
    # Over A, B, C, E: churn 2/4 if not contacted, 2/4 if contacted.
    overall = true_effect(certain_run.truth).iloc[0]
    assert (overall["churn_if_control"], overall["churn_effect"]) == (0.5, 0.0)
    by_kind = true_effect(certain_run.truth, "kind").set_index("kind")
    assert by_kind["churn_effect"].to_dict() == {"persuadable": -1.0, "sleeping_dog": 1.0}
    assert by_kind["customers"].to_dict() == {"persuadable": 2, "sleeping_dog": 2}


def test_contacts_go_out_when_told(certain_run):
    later = pd.Timestamp("2024-04-03 15:30")
    run = simulate_campaign(small_shop(), small_list(), AS_OF, effects=CERTAIN, contacted_at=later)
    assert set(run.contacts["contacted_at"]) == {later}
    # B's order of April 20 is after the contact either way.
    assert lines_of(run.transactions, "B")["order_id"].tolist() == ["b1"]


def test_a_list_whose_window_ends_after_the_data_is_refused():
    with pytest.raises(ConfigError, match="window ends after the data's last date 2024-12-31"):
        simulate_campaign(small_shop(), small_list(), dt.date(2024, 10, 3))


def test_an_unknown_group_is_a_contract_error():
    bad = small_list().assign(group=["contact", "holdout", "control", "control", "control"])
    with pytest.raises(DataContractError, match="found holdout"):
        simulate_campaign(small_shop(), bad, AS_OF)


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    return generate_transactions(ShopSpec(n_customers=3000, days=730, seed=3))


SHOP_AS_OF = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def shop_list(shop) -> pd.DataFrame:
    """Every customer active at as_of, half contacted and half held out at random."""
    end = pd.Timestamp(SHOP_AS_OF) + pd.Timedelta(days=1)
    recent = shop[(shop["ts"] < end) & (shop["ts"] >= end - pd.Timedelta(days=365))]
    active = sorted(recent.loc[recent["amount"] > 0, "customer_id"].unique())
    coin = np.random.default_rng(0).random(len(active)) < 0.5
    return pd.DataFrame({"customer_id": active, "group": np.where(coin, "contact", "control")})


@pytest.fixture(scope="module")
def shop_run(shop, shop_list):
    return simulate_campaign(shop, shop_list, SHOP_AS_OF, seed=1)


def test_kinds_are_the_same_for_the_same_seed_and_differ_for_another(shop, shop_list, shop_run):
    again = simulate_campaign(shop, shop_list, SHOP_AS_OF, seed=1)
    other = simulate_campaign(shop, shop_list, SHOP_AS_OF, seed=2)
    pd.testing.assert_frame_equal(again.truth, shop_run.truth)
    pd.testing.assert_frame_equal(again.transactions, shop_run.transactions)
    assert (other.truth["kind"] != shop_run.truth["kind"]).mean() > 0.05


def test_a_customers_kind_does_not_depend_on_who_else_is_listed(shop, shop_list, shop_run):
    facts = customer_facts(shop, shop_list["customer_id"], SHOP_AS_OF)
    full = shop_list.join(facts, on="customer_id")
    half = full.iloc[::2]
    kinds = simulate_campaign(shop, full, SHOP_AS_OF, seed=1).truth.set_index("customer_id")
    fewer = simulate_campaign(shop, half, SHOP_AS_OF, seed=1).truth.set_index("customer_id")
    pd.testing.assert_series_equal(fewer["kind"], kinds.loc[fewer.index, "kind"])


def test_churned_if_control_is_the_churn_label(shop, shop_run):
    truth = shop_run.truth
    population = pd.DataFrame({"customer_id": truth["customer_id"], "as_of": SHOP_AS_OF})
    labels = make_labels(connect_to(shop), population, 90, shop["ts"].max().date())
    assert (truth["churned_if_control"].to_numpy() == labels.to_numpy()).all()


def test_realised_churn_is_the_label_on_the_changed_transactions(shop, shop_run):
    truth = shop_run.truth
    population = pd.DataFrame({"customer_id": truth["customer_id"], "as_of": SHOP_AS_OF})
    labels = make_labels(connect_to(shop_run.transactions), population, 90, dt.date(2024, 12, 30))
    assert (truth["churned"].to_numpy() == labels.to_numpy()).all()


def test_no_effect_changes_nothing(shop, shop_list):
    run = simulate_campaign(shop, shop_list, SHOP_AS_OF, effects=CampaignEffects.none())
    pd.testing.assert_frame_equal(run.transactions, shop)
    assert true_effect(run.truth).iloc[0]["churn_effect"] == 0.0
    assert set(run.truth["kind"]) == {"sure_thing", "lost_cause"}


def test_the_default_effect_lowers_churn_and_differs_by_segment_and_risk(shop_run):
    truth = shop_run.truth
    assert true_effect(truth).iloc[0]["churn_effect"] < -0.1
    by_segment = true_effect(truth, "segment").set_index("segment")["churn_effect"]
    assert by_segment["dormant"] < -0.2 < 0.0 < by_segment["vip"]
    band = pd.cut(truth["churn_probability"], [0.0, 0.2, 0.6, 0.8, 1.0])
    by_band = true_effect(truth.assign(band=band), "band").set_index("band")["churn_effect"]
    # Low risk: put off on balance; medium to high: kept; the highest: mostly lost causes.
    assert by_band.iloc[0] > 0 > by_band.iloc[3] > by_band.iloc[2]


def test_realised_contact_against_control_is_near_the_planted_effect(shop_run):
    truth = shop_run.truth
    realised = truth.groupby("group")["churned"].mean()
    planted = true_effect(truth).iloc[0]["churn_effect"]
    assert abs((realised["contact"] - realised["control"]) - planted) < 0.05


def test_several_lists_run_in_date_order_each_on_the_previous_result(shop, shop_list):
    first, second = dt.date(2024, 3, 31), SHOP_AS_OF
    later_list = shop_list.iloc[::3]
    run = simulate_campaigns(shop, [(second, later_list), (first, shop_list)], seed=1)
    step = simulate_campaign(shop, shop_list, first, seed=1)
    step = simulate_campaign(step.transactions, later_list, second, seed=1)
    pd.testing.assert_frame_equal(run.transactions, step.transactions)
    assert run.contacts["campaign"].unique().tolist() == [
        "retention-2024-03-31",
        "retention-2024-06-30",
    ]
    assert run.truth.columns[0] == "as_of"
    assert run.truth.groupby("as_of").size().to_dict() == {
        first: len(shop_list),
        second: len(later_list),
    }


def test_several_lists_leave_out_the_pending_ones(shop, shop_list):
    run = simulate_campaigns(shop, [(SHOP_AS_OF, shop_list), (dt.date(2024, 12, 1), shop_list)])
    assert run.pending == (dt.date(2024, 12, 1),)
    assert set(run.truth["as_of"]) == {SHOP_AS_OF}


def test_the_command_writes_the_three_files_from_stored_runs(tmp_path, capsys):
    run_dir = tmp_path / "scores" / "en" / "2024-03-31"
    run_dir.mkdir(parents=True)
    small_list().to_parquet(run_dir / "scores.parquet")
    (run_dir / "manifest.json").write_text(json.dumps({"as_of": "2024-03-31", "horizon_days": 90}))
    small_shop().to_parquet(tmp_path / "transactions.parquet")
    out = tmp_path / "campaign"
    main(
        [
            "--scores",
            str(tmp_path / "scores" / "en"),
            "--transactions",
            str(tmp_path / "transactions.parquet"),
            "--out",
            str(out),
        ]
    )
    contacts = pd.read_csv(out / "contacts.csv")
    assert contacts.columns.tolist() == ["customer_id", "contacted_at", "campaign", "group"]
    assert contacts["contacted_at"].tolist() == ["2024-04-01 09:00:00"] * 4
    assert len(pd.read_parquet(out / "truth.parquet")) == 4
    assert len(pd.read_parquet(out / "transactions.parquet")) > 0
    assert "planted effect on churn" in capsys.readouterr().out


def test_an_earlier_lists_realised_churn_is_read_on_the_final_transactions(shop, shop_list):
    first = dt.date(2024, 5, 31)
    run = simulate_campaigns(shop, [(first, shop_list), (SHOP_AS_OF, shop_list)], seed=1)
    truth = run.truth[run.truth["as_of"] == first]
    population = pd.DataFrame({"customer_id": truth["customer_id"], "as_of": first})
    labels = make_labels(connect_to(run.transactions), population, 90, dt.date(2024, 12, 30))
    assert (truth["churned"].to_numpy() == labels.to_numpy()).all()


def test_the_command_without_stored_runs_exits_2_saying_what_to_pass(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--scores", str(tmp_path), "--transactions", str(tmp_path / "t.parquet")])
    assert stopped.value.code == 2
    assert "no scores.parquet there or in its subfolders" in capsys.readouterr().err
