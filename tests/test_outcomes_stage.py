"""The whole loop on a simulated shop: a list with a control group, a campaign with a planted
effect on it, and `churn outcomes` recovering that effect and the realised churn against
the simulator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from churn.data import campaigns
from churn.errors import RetrainNeeded
from churn.stages import outcomes, score
from tests.cli import run_churn
from tests.conftest import compose_config

LIST_DATE = "2024-08-31"  # its 90-day horizon has passed: the small shop ends 2024-12-31
PENDING_DATE = "2024-12-15"  # its horizon has not
# Every active customer selected, half held out: arms large enough to measure an effect.
# The model was trained on the whole small shop, so its reference is after the list's
# date: ages drift backwards, which the gate would stop.
LIST_SETTINGS = ["score.share=1.0", "score.control_fraction=0.5", "score.drift.fail_psi=null"]


def score_at(shop: Path, scores: Path, store: list[str], as_of: str) -> None:
    cfg = compose_config(
        "score",
        [
            f"data.transactions={shop}",
            f"score.output_dir={scores}",
            f"as_of={as_of}",
            *LIST_SETTINGS,
            *store,
        ],
    )
    score.run(cfg)


def outcomes_config(shop: Path, scores: Path, out: Path, store: list[str], *extra: str):
    return compose_config(
        "outcomes",
        [
            f"data.transactions={shop}",
            f"score.output_dir={scores}",
            f"outcomes.output_dir={out}",
            "outcomes.log_to_mlflow=false",
            *store,
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def lists(small_shop_path, trained_store, tmp_path_factory) -> Path:
    """Two stored lists of the small shop: one matured, one pending."""
    scores = tmp_path_factory.mktemp("lists")
    score_at(small_shop_path, scores, trained_store, LIST_DATE)
    score_at(small_shop_path, scores, trained_store, PENDING_DATE)
    return scores


def campaign(small_shop_path: Path, lists: Path, out: Path, effect: str) -> Path:
    campaigns.main(
        [
            "--scores",
            str(lists / "en"),
            "--transactions",
            str(small_shop_path),
            "--out",
            str(out),
            "--effect",
            effect,
            "--seed",
            "11",
        ]
    )
    return out


@pytest.fixture(scope="module")
def planted(small_shop_path, lists, trained_store, tmp_path_factory) -> tuple[dict, pd.DataFrame]:
    """The outcomes of the matured list after a campaign with the default planted effect,
    read with the campaign tool's contact log; and the ground truth."""
    root = tmp_path_factory.mktemp("planted")
    sim = campaign(small_shop_path, lists, root / "campaign", "default")
    cfg = outcomes_config(
        sim / "transactions.parquet",
        lists,
        root / "out",
        trained_store,
        f"data.contacts={sim / 'contacts.csv'}",
    )
    return outcomes.run(cfg), pd.read_parquet(sim / "truth.parquet")


def matured(result: dict) -> dict:
    (run,) = [r for r in result["runs"] if r["status"] == "matured"]
    return run


def test_the_planted_effect_on_churn_lies_in_the_recovered_interval(planted):
    result, truth = planted
    churn = matured(result)["effect"]["metrics"][0]
    effect = campaigns.true_effect(truth)
    planted_difference = float(effect["churn_effect"].iloc[0])
    assert planted_difference < -0.1  # a large planted effect: contacting keeps customers
    assert churn["low"] <= planted_difference <= churn["high"]
    assert churn["high"] < 0  # and the interval excludes no effect


def test_a_campaign_without_effect_has_an_interval_around_zero(
    small_shop_path, lists, trained_store, tmp_path
):
    sim = campaign(small_shop_path, lists, tmp_path / "campaign", "none")
    cfg = outcomes_config(
        sim / "transactions.parquet",
        lists,
        tmp_path / "out",
        trained_store,
        f"data.contacts={sim / 'contacts.csv'}",
    )
    churn = matured(outcomes.run(cfg))["effect"]["metrics"][0]
    assert churn["low"] < 0 < churn["high"]


def test_the_realised_churn_per_tier_matches_the_truth(planted):
    result, truth = planted
    control = truth[truth["group"] == "control"]
    for row in matured(result)["performance"]["by_tier"]:
        tier = control[control["risk_tier"] == row["group"]]
        # Nobody contacted the control group: its realised churn is the truth's, exactly.
        assert row["customers"] == len(tier)
        assert row["realised"] == pytest.approx(tier["churned_if_control"].mean())
        # And, drawn at random, it estimates the churn the whole tier would have had.
        whole = truth.loc[truth["risk_tier"] == row["group"], "churned_if_control"].mean()
        assert row["low"] <= whole <= row["high"], row


def test_a_list_whose_horizon_has_not_passed_is_pending_without_results(planted):
    result, _ = planted
    (pending,) = [r for r in result["runs"] if r["as_of"] == PENDING_DATE]
    assert pending["status"] == "pending"
    assert pending["performance"] is None and pending["effect"] is None
    assert pending["outcome_known_on"] == "2025-03-15"
    assert 0 < pending["predicted_churn"] < 1


def test_the_outputs_are_written_and_say_where_contacts_came_from(planted, tmp_path):
    result, _ = planted
    assert result["contacts"]["source"] == "log"
    assert [r["status"] for r in result["runs"]] == ["pending", "matured"]  # newest first


def test_without_a_log_each_list_is_taken_as_contacted_the_day_after(
    small_shop_path, lists, trained_store, tmp_path, capsys
):
    result = outcomes.run(outcomes_config(small_shop_path, lists, tmp_path, trained_store))
    assert "outcomes of 2 lists (1 matured, 1 pending)" in capsys.readouterr().out
    assert result["contacts"] == {"source": "assumed"}
    folder = tmp_path / "en" / "outcomes"
    assert sorted(p.name for p in folder.iterdir()) == [
        "campaign_effect.csv",
        "outcomes.csv",
        "outcomes.html",
        "outcomes.json",
    ]
    html = (folder / "outcomes.html").read_text()
    assert "day after" in html
    table = pd.read_csv(folder / "outcomes.csv", encoding="utf-8-sig")
    assert set(table["status"]) == {"matured", "pending"}
    pending = table[table["status"] == "pending"]
    assert pending["realised_churn"].isna().all()


def test_the_italian_outcomes_page_is_written_in_italian(
    small_shop_path, lists, trained_store, tmp_path, capsys
):
    # Italian lists are stored apart: score the matured date in Italian too.
    cfg = compose_config(
        "score",
        [
            f"data.transactions={small_shop_path}",
            f"score.output_dir={lists}",
            f"as_of={LIST_DATE}",
            "locale=it",
            *LIST_SETTINGS,
            *trained_store,
        ],
    )
    score.run(cfg)
    capsys.readouterr()
    outcomes.run(outcomes_config(small_shop_path, lists, tmp_path, trained_store, "locale=it"))
    # One Italian list: the closing line counts it in the singular.
    assert "outcomes of 1 list (1 matured, 0 pending)" in capsys.readouterr().out
    html = (tmp_path / "it" / "outcomes" / "outcomes.html").read_text()
    assert 'lang="it"' in html and "controllo" in html
    assert (tmp_path / "it" / "outcomes" / "outcomes.csv").read_text(encoding="utf-8-sig").count(
        ";"
    ) > 0


def test_a_model_below_its_thresholds_asks_for_retraining_after_writing(
    small_shop_path, lists, trained_store, tmp_path
):
    cfg = outcomes_config(small_shop_path, lists, tmp_path, trained_store, "gate.min_roc_auc=0.99")
    with pytest.raises(RetrainNeeded, match="gate.min_roc_auc 0.99"):
        outcomes.run(cfg)
    written = json.loads((tmp_path / "en" / "outcomes" / "outcomes.json").read_text())
    assert written["retrain"]["reasons"] == ["roc_auc"]


def test_the_retrain_exit_code_is_7(small_shop_path, lists, trained_store, tmp_path):
    result = run_churn(
        [
            "outcomes",
            f"data.transactions={small_shop_path}",
            f"score.output_dir={lists}",
            f"outcomes.output_dir={tmp_path / 'out'}",
            "outcomes.max_calibration_error=0.0001",
            "outcomes.log_to_mlflow=false",
            f"hydra.run.dir={tmp_path / 'logs'}",
            *trained_store,
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 7, result.stderr[-2000:]
    assert "outcomes.max_calibration_error" in result.stderr.splitlines()[-1]


def test_a_contact_log_with_too_many_bad_rows_exits_3_and_keeps_them(
    small_shop_path, lists, trained_store, tmp_path
):
    log = tmp_path / "contacts.csv"
    log.write_text(
        "customer_id,contacted_at,campaign,group\n"
        "C000001,2024-09-01 09:00,spring,contact\n"
        "C000002,not a date,spring,contact\n"
        "C000003,2024-09-01 09:00,spring,maybe\n"
    )
    result = run_churn(
        [
            "outcomes",
            f"data.transactions={small_shop_path}",
            f"data.contacts={log}",
            f"score.output_dir={lists}",
            f"outcomes.output_dir={tmp_path / 'out'}",
            f"hydra.run.dir={tmp_path / 'logs'}",
            *trained_store,
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "contacts_quarantine.csv" in result.stderr
    quarantine = pd.read_csv(tmp_path / "logs" / "contacts_quarantine.csv", dtype=str)
    assert sorted(quarantine["reason"]) == [
        "contact_group not contact or control",
        "contacted_at unparseable",
    ]
    assert not (tmp_path / "out").exists()


def test_the_outcomes_are_logged_against_the_model_version(
    small_shop_path, lists, trained_store, tmp_path
):
    from mlflow.tracking import MlflowClient

    cfg = outcomes_config(
        small_shop_path, lists, tmp_path, trained_store, "outcomes.log_to_mlflow=true"
    )
    result = outcomes.run(cfg)
    client = MlflowClient(tracking_uri=trained_store[0].split("=", 1)[1])
    version = matured(result)["model_version"]
    tags = client.get_model_version("churn", version).tags
    assert tags["realised_as_of"] == LIST_DATE
    assert float(tags["realised_roc_auc"]) == pytest.approx(
        matured(result)["performance"]["not_contacted"]["roc_auc"], abs=1e-4
    )
    experiment = client.get_experiment_by_name("churn-outcomes")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["churn.list_as_of"] == LIST_DATE
    assert "realised_roc_auc" in run.data.metrics


def test_only_dated_folders_with_a_manifest_and_scores_are_lists(tmp_path):
    root = tmp_path / "en"
    for name in ("2024-01-31", "2024-02-29", ".2024-03-31.old", "outcomes", "2024-04-30"):
        (root / name).mkdir(parents=True)
    for name in ("2024-01-31", "2024-02-29", ".2024-03-31.old"):
        (root / name / "manifest.json").write_text('{"horizon_days": 60}')
        (root / name / "scores.parquet").write_bytes(b"")
    runs = outcomes.stored_runs(tmp_path, "en")
    assert [r.folder.name for r in runs] == ["2024-02-29", "2024-01-31"]
    assert runs[0].known_on.isoformat() == "2024-04-29"


def test_a_contact_log_with_a_few_bad_rows_counts_and_keeps_them(
    small_shop_path, lists, trained_store, tmp_path
):
    good = [f"C{i:06d},2024-09-01 09:00,autumn,contact\n" for i in range(1, 201)]
    log = tmp_path / "contacts.csv"
    log.write_text(
        "customer_id,contacted_at,campaign,group\n" + "".join(good) + ",2024-09-01,autumn,\n"
    )
    cfg = outcomes_config(
        small_shop_path,
        lists,
        tmp_path,
        trained_store,
        f"data.contacts={log}",
        "ingest.max_bad_fraction=0.05",
    )
    outcomes.run(cfg)
    folder = tmp_path / "en" / "outcomes"
    counts = json.loads((folder / "outcomes.json").read_text())["ingest"]["contacts_table"]
    assert (counts["rows_read"], counts["rows_kept"], counts["rows_quarantined"]) == (201, 200, 1)
    quarantine = pd.read_csv(folder / "contacts_quarantine.csv", dtype=str)
    assert quarantine["reason"].tolist() == ["customer_id missing"]
