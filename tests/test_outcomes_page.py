"""The outcomes page: both languages and their number formats, pending lists, the retrain
banner, assumed and logged contacts, a list without control group, missing figures, many
lists, no lists, escaping and self-containment."""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import pytest

from churn.reporting.outcomes_page import render_outcomes, write_outcomes_page
from tests.outcomes_fixture import RETRAIN, matured_run, outcomes, pending_run, without_control


def text(page: str) -> str:
    """What a reader sees: the page without its stylesheet and tags, entities decoded."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.DOTALL)
    page = re.sub(r"<title>.*?</title>", " ", page, flags=re.DOTALL)
    page = re.sub(r"</?(b|code|span)\b[^>]*>", "", page)
    shown = html.unescape(re.sub(r"<[^>]+>", " ", page)).replace("\u2060", "")
    return re.sub(r"[ \t\r\n]+", " ", shown)


def table(page: str, css_class: str) -> str:
    found = re.findall(rf'<table class="{css_class}[ "].*?</table>', page, flags=re.DOTALL)
    assert len(found) == 1, css_class
    return found[0]


def rows(fragment: str) -> list[str]:
    return re.findall(r"<tr><td.*?</tr>", fragment, flags=re.DOTALL)


def only_pending() -> dict:
    return outcomes(
        "en",
        runs=[pending_run("2011-12-09", "2012-03-08"), pending_run("2011-11-01", "2012-01-30")],
        by_model=[],
    )


def test_english_page_has_english_headings_and_language():
    page = render_outcomes(outcomes("en"))

    assert '<html lang="en">' in page
    assert "<h1>Outcomes of the at-risk lists</h1>" in page
    assert "<h2>Did the list of September 1, 2011 come true?</h2>" in page
    assert "<h2>What the campaign on the list of September 1, 2011 did</h2>" in page


def test_italian_page_has_italian_headings_and_language():
    page = render_outcomes(outcomes("it"))

    assert '<html lang="it">' in page
    assert "<h1>Esiti delle liste dei clienti a rischio</h1>" in page
    assert "<h2>Le previsioni della lista con data 1 settembre 2011 si sono avverate?</h2>" in page
    assert "<h2>Liste in attesa dell&#39;esito</h2>" in page


def test_italian_numbers_have_decimal_commas_and_dotted_thousands():
    shown = text(render_outcomes(outcomes("it")))

    # ROC AUC, shares, points, thousands and money, each the Italian way.
    for figure in ("0,74", "43,1%", "3,1 punti", "4.264", "43.872\xa0€", "da 41,5% a 44,6%"):
        assert figure in shown, figure
    # No decimal point: a dot is only ever followed by three digits of thousands.
    assert not re.search(r"\d\.\d{1,2}(?!\d)", shown), re.search(r".{30}\d\.\d{1,2}.{30}", shown)
    # No date left in ISO form.
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown)


def test_english_numbers_have_decimal_points_and_comma_thousands():
    shown = text(render_outcomes(outcomes("en")))

    for figure in ("0.74", "43.1%", "3.1 points", "4,264", "£43,872", "41.5% to 44.6%"):
        assert figure in shown, figure
    assert not re.search(r"\d,\d{1,2}(?!\d)", shown)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown)


def test_differences_are_signed_with_their_interval_in_points():
    shown = text(render_outcomes(outcomes("en")))

    assert "\u221211.3 points" in shown
    assert "\u221226.9 to +4.2 points" in shown
    assert "+13.6 points" in shown
    assert "+£114" in shown


def test_the_cards_sign_customers_kept_and_extra_revenue_like_the_other_differences():
    view = outcomes("en")
    effect = next(run["effect"] for run in view["runs"] if run.get("effect"))
    effect["incremental_customers"] = {"value": -3.0, "low": -20.0, "high": 14.0}
    # Revenue from a small arm has no interval: a dash, and no verdict yet.
    effect["incremental_revenue"] = {"value": -900.0, "low": None, "high": None}
    effect["metrics"][3].update(low=None, high=None)
    page = render_outcomes(view)
    cards = text(re.search(r'class="cards".*?</section>', page, re.DOTALL)[0])

    assert "Revenue per customer £412 £298 +£114\u2013 Not shown yet" in text(page)

    assert "\u22123 " in cards
    assert "-3" not in cards
    assert "\u2212£900" in cards
    assert "\u221220 to +14" in cards


def test_pending_lists_say_when_they_will_be_known_and_show_no_result():
    page = render_outcomes(outcomes("en"))
    pending = table(page, "pending")

    assert "known on March 8, 2012" in pending
    assert "known on January 30, 2012" in pending
    for row in rows(pending):
        # The one share in a pending row is the churn expected: the mean probability.
        assert re.findall(r"[\d.]+%", row) == ["38.8%"]


def test_only_pending_lists_show_the_first_date_and_no_result():
    page = render_outcomes(only_pending())

    assert "there is no result to read: the first will be known on <b>January 30, 2012</b>" in page
    assert "known on March 8, 2012" in page
    assert "come true?" not in page
    assert "What the campaign" not in page
    assert "chart-deciles" not in page
    assert "Churn that happened" not in page


def test_retrain_banner_only_when_retrain_is_set():
    assert "should be retrained" not in render_outcomes(outcomes("en"))

    page = render_outcomes(outcomes("en", retrain=RETRAIN))
    banner = re.search(r'<section class="notice retrain".*?</section>', page, flags=re.DOTALL)

    assert banner
    shown = text(banner.group(0))
    assert "The model should be retrained" in shown
    assert "model version 3" in shown
    assert "a ROC AUC of 0.61, below the minimum of 0.65" in shown
    assert "12.3 points away from the churn that happened" in shown
    assert "more than the 10.0 points allowed" in shown


def test_italian_retrain_banner():
    shown = text(render_outcomes(outcomes("it", retrain=RETRAIN)))

    assert "Il modello va riaddestrato" in shown
    assert "un ROC AUC di 0,61, sotto il minimo di 0,65" in shown


def test_a_retrain_banner_for_one_reason_names_only_it():
    shown = text(render_outcomes(outcomes("en", retrain={**RETRAIN, "reasons": ["roc_auc"]})))

    assert "ROC AUC of 0.61" in shown
    assert "points allowed" not in shown


def test_contacts_are_said_to_be_assumed_without_a_log():
    shown = text(render_outcomes(outcomes("en")))

    assert "each list is taken as contacted on the day after its date" in shown
    assert "contact log" in shown


def test_italian_contacts_assumed():
    shown = text(render_outcomes(outcomes("it")))

    assert "ogni lista è considerata contattata il giorno dopo la sua data" in shown


def test_contacts_read_from_a_log_name_the_file_and_its_rows():
    view = outcomes("en", contacts={"source": "log", "file": "data/contacts.csv", "rows": 1234})
    view["runs"][2]["effect"] |= {"not_reached": 7, "control_contacted": 2}

    shown = text(render_outcomes(view))

    assert "taken as contacted on the day after" not in shown
    assert "Contacts are read from the contact log data/contacts.csv (1,234 rows)" in shown
    assert "Customers on the list who are not in the contact log: 7." in shown
    assert "contacted all the same: 2. They are left out of the comparison." in shown


def test_a_list_without_control_group_says_one_is_needed():
    view = outcomes("en")
    view["runs"][2] = without_control(view["runs"][2])

    page = render_outcomes(view)

    assert "No control group was held out of this list" in page
    assert "<code>score.control_fraction</code>" in page
    assert 'class="metrics' not in page
    # The realised churn is still checked.
    assert "Did the list of September 1, 2011 come true?" in page


def test_each_campaign_measure_says_what_it_shows():
    metrics = table(render_outcomes(outcomes("en")), "metrics")
    by_name = {re.search(r"<td>(.*?)</td>", row).group(1): row for row in rows(metrics)}

    assert list(by_name) == [
        "Churn rate",
        "Response rate",
        "Conversion rate",
        "Revenue per customer",
    ]
    assert "Not shown yet" in by_name["Churn rate"]
    assert "Better with the contact" in by_name["Response rate"]
    assert "£412" in by_name["Revenue per customer"]


def test_a_clear_rise_in_churn_is_worse_with_the_contact():
    view = outcomes("en")
    churn = view["runs"][2]["effect"]["metrics"][0]
    churn |= {"difference": 0.1, "low": 0.02, "high": 0.18}

    row = rows(table(render_outcomes(view), "metrics"))[0]

    assert "Worse with the contact" in row


def test_the_campaign_per_segment_and_per_action_uses_the_catalog_names():
    page = render_outcomes(outcomes("it"))

    by_segment, by_action = re.findall(
        r'<table class="effects stack">.*?</table>', page, flags=re.DOTALL
    )
    assert "<td>Dormiente</td>" in by_segment
    assert "<td>Offerta fedeltà</td>" in by_action
    assert "<td>Rischio alto</td>" in page


def test_the_realised_churn_is_compared_with_the_prediction():
    page = render_outcomes(outcomes("en"))

    # 40.2% predicted lies below the realised 41.5% to 44.6%.
    assert "More customers left than predicted" in page
    view = outcomes("en")
    view["runs"][2]["performance"]["not_contacted"]["predicted"] = 0.42
    assert "The list came true" in render_outcomes(view)


def test_missing_figures_are_dashes():
    view = outcomes("en")
    run = view["runs"][2]
    run["performance"]["not_contacted"] |= {"roc_auc": None, "brier": None, "low": None}
    run["performance"]["by_decile"][0] |= {"realised": None, "low": None, "high": None}
    run["effect"]["metrics"][1] |= {"difference": None, "low": None, "high": None}
    run["effect"] |= {"cost": 0.0, "return_on_spend": None}
    view["by_model"][0]["roc_auc"] = None

    page = render_outcomes(view)
    shown = text(page)

    assert "ROC AUC (how well the list ranks" in shown
    assert re.search(r"0\.5 = chance, 1 = perfect\): –", shown)
    assert "no cost per contact is set" in shown
    assert "None" not in shown
    assert "nan" not in shown
    # Without its interval, the check on the prediction says nothing either way.
    assert "than predicted" not in shown
    assert "The list came true" not in shown


def test_many_lists_show_the_newest_matured_in_full_and_older_ones_in_one_table():
    view = outcomes("en")
    view["runs"] += [
        matured_run(f"2010-{month:02d}-01", model_version="1") for month in range(12, 0, -1)
    ]

    page = render_outcomes(view)
    older = table(page, "older")

    assert page.count("come true?</h2>") == 1
    assert len(rows(older)) == 14
    assert "June 1, 2011" in older
    assert "January 1, 2010" in older
    assert "no control group" in rows(older)[0]
    assert "\u221211.3 points" in text(rows(older)[1])


def test_the_model_versions_table():
    models = table(render_outcomes(outcomes("en")), "models")

    assert "<td>Version 3</td>" in models
    assert "0.70" in models
    assert "5.2 points" in models


def test_a_page_with_no_lists_says_there_is_nothing_to_read_yet():
    page = render_outcomes(outcomes("en", runs=[], by_model=[]))
    shown = text(page)

    assert "There is nothing to read yet: no list was found in outputs/scores/en" in shown
    assert "each list is taken as contacted on the day after its date" in shown
    assert "<table" not in page
    assert 'class="cards"' not in page


def test_italian_page_with_no_lists():
    shown = text(render_outcomes(outcomes("it", runs=[], by_model=[])))

    assert "Non c'è ancora nulla da leggere" in shown


def test_hostile_strings_are_escaped():
    hostile = "<script>alert(1)</script>"
    view = outcomes(
        "en", scores_dir=hostile, contacts={"source": "log", "file": hostile, "rows": 3}
    )
    run = view["runs"][2]
    run["model_version"] = hostile
    run["effect"]["by_action"][0]["group"] = hostile
    run["effect"]["by_segment"][0]["group"] = hostile
    run["performance"]["by_decile"][0]["group"] = hostile
    view["by_model"][0]["model_version"] = hostile

    page = render_outcomes(view)

    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_technical_name_is_shown():
    shown = text(render_outcomes(outcomes("en", retrain=RETRAIN)))

    for key in (
        "churn_rate",
        "response_rate",
        "conversion_rate",
        "revenue_per_customer",
        "not_contacted",
        "not_selected",
        "roc_auc",
        "calibration_error",
        "incremental",
        "return_on_spend",
        "loyalty_offer",
        "rhythm_reminder",
        "matured",
        "outcomes.",
    ):
        assert key not in shown, key


def test_page_is_self_contained():
    page = render_outcomes(outcomes("en"))

    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "<link" not in page


def test_every_table_scrolls_in_its_own_container():
    page = render_outcomes(outcomes("en"))

    # Overall, tenths, tiers, segments; measures, by segment, by action; pending, older,
    # model versions.
    assert page.count("<table") == 10
    assert page.count('<div class="table-scroll"') == 10


def test_the_tenths_chart_shows_each_tenth_with_its_interval():
    page = render_outcomes(outcomes("en"))

    for chart_id in ("chart-deciles", "chart-deciles-narrow"):
        chart = re.search(rf'<svg id="{chart_id}".*?</svg>', page, flags=re.DOTALL).group(0)
        assert 'role="img"' in chart
        assert chart.count('class="dot"') == 10
        assert chart.count('class="whisker"') == 10
        assert chart.count('class="bar"') == 10
        assert "Tenth 1, 388 customers: predicted 81.2%, realised 78.4%" in chart


def test_a_tenth_without_realised_churn_has_no_dot():
    view = outcomes("en")
    view["runs"][2]["performance"]["by_decile"][9] |= {"realised": None}

    chart = re.search(r'<svg id="chart-deciles".*?</svg>', render_outcomes(view), re.DOTALL)

    assert chart.group(0).count('class="dot"') == 9


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"locale": "xx"}, "locale"),
        ({"contacts": {"source": "guess"}}, "contacts source"),
    ],
)
def test_bad_view_models_raise_value_error(change, message):
    with pytest.raises(ValueError, match=message):
        render_outcomes(outcomes("en") | change)


def test_unknown_run_status_or_measure_or_reason_raises():
    view = outcomes("en")
    view["runs"][0]["status"] = "done"
    with pytest.raises(ValueError, match="status"):
        render_outcomes(view)

    view = outcomes("en")
    view["runs"][2]["effect"]["metrics"][0]["metric"] = "happiness"
    with pytest.raises(ValueError, match="campaign measure"):
        render_outcomes(view)

    with pytest.raises(ValueError, match="retrain"):
        render_outcomes(outcomes("en", retrain={**RETRAIN, "reasons": ["drift"]}))


def test_the_view_model_is_not_changed():
    view = outcomes("en", retrain=RETRAIN)
    before = copy.deepcopy(view)

    render_outcomes(view)

    assert view == before


def test_write_outcomes_page_writes_utf8(tmp_path: Path):
    path = write_outcomes_page(outcomes("it"), tmp_path / "outcomes.html")

    assert path == tmp_path / "outcomes.html"
    assert "43.872\xa0€" in path.read_text(encoding="utf-8")


def test_the_return_on_spend_shows_its_interval():
    html = " ".join(render_outcomes(outcomes()).split())
    assert "extra revenue for each £1 spent on contacts; 95% interval:" in html
