"""The uplift page: both languages and their number formats, the gate's verdict in words
(passed, failed with its reasons, forced), a features table with a response model to beat,
the curves, the budget table, missing figures, escaping, no technical names and
self-containment."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from churn.reporting import charts
from churn.reporting.uplift_page import render_uplift_report, write_uplift_report
from tests.test_outcomes_page import rows, table, text
from tests.uplift_fixture import failed, hillstrom, uplift, within_chance


def gate(page: str) -> str:
    """What the gate's box says."""
    found = re.search(r'<section class="gate (\w+)">(.*?)</section>', page, flags=re.DOTALL)
    assert found, "the page has no gate box"
    return text(found.group(2)).strip()


def chart(page: str, chart_id: str) -> str:
    return re.search(rf'<svg id="{chart_id}".*?</svg>', page, flags=re.DOTALL).group(0)


def test_english_page_has_english_headings_and_language():
    page = render_uplift_report(uplift("en"))

    assert '<html lang="en">' in page
    assert "<h1>Who is worth contacting: the uplift model</h1>" in page
    assert "<h2>Customers kept as the list grows: the Qini curve</h2>" in page
    assert "<h2>For a given budget</h2>" in page
    assert "<h2>How to read this page</h2>" in page


def test_italian_page_has_italian_headings_and_language():
    page = render_uplift_report(uplift("it"))

    assert '<html lang="it">' in page
    assert "<h1>Chi conviene contattare: il modello di uplift</h1>" in page
    assert "<h2>Clienti trattenuti al crescere della lista: la curva di Qini</h2>" in page
    assert "<h2>Per un dato budget</h2>" in page
    assert "<h2>Clienti lasciati in pace</h2>" in page


def test_italian_numbers_have_decimal_commas_and_dotted_thousands():
    shown = text(render_uplift_report(uplift("it")))

    for figure in (
        "0,213",
        "+18,1 punti",
        "da +12,0 a +24,2 punti",
        "da +0,021 a +0,163",
        "1.031",
        "2.247\xa0€",
        "7,1%",
        "31 agosto 2024",
    ):
        assert figure in shown, figure
    # No decimal point: a dot is only ever followed by three digits of thousands.
    assert not re.search(r"\d\.\d{1,2}(?!\d)", shown), re.search(r".{30}\d\.\d{1,2}.{30}", shown)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown)


def test_english_numbers_have_decimal_points_and_comma_thousands():
    shown = text(render_uplift_report(uplift("en")))

    for figure in (
        "0.213",
        "+18.1 points",
        "+12.0 to +24.2 points",
        "+0.095",
        "1,031",
        "£2,247",
        "7.1%",
        "August 31, 2024",
    ):
        assert figure in shown, figure
    assert not re.search(r"\d,\d{1,2}(?!\d)", shown)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown)


def test_the_verdict_comes_first():
    page = render_uplift_report(uplift("en"))

    assert page.index('<section class="gate') < page.index('class="cards"')
    assert page.index('<section class="gate') < page.index("<h2>")


def test_a_passed_gate_says_the_model_is_used_for_the_lists():
    page = render_uplift_report(uplift("en"))
    said = gate(page)

    assert '<section class="gate passed">' in page
    assert said.startswith("This model is used for the lists")
    assert "not used" not in said
    assert "lists chosen by uplift (score.selection=uplift) rank the customers" in said
    assert (
        "✓ Beats a random list beyond chance: Qini coefficient 0.213 against 0.000, the 95% "
        "interval of its lead +0.150 to +0.272." in said
    )
    assert "✓ Beats a list by churn risk: Qini coefficient 0.213 against 0.119." in said
    assert "✓ Checked on a later campaign it did not learn from." in said
    assert "alias champion" in said


def test_a_failed_gate_says_the_model_is_not_used_and_why():
    page = render_uplift_report(failed("en"))
    said = gate(page)

    assert '<section class="gate failed">' in page
    assert said.startswith(
        "This model is not used for the lists yet, because its list does not beat a list by "
        "churn risk (Qini coefficient 0.101 against 0.119)."
    )
    assert (
        "keep the uplift model already in use or, when there is none, are chosen by value at "
        "risk (churn risk times the customer's spend over the last year)" in said
    )
    assert "chosen by churn risk" not in said
    assert "✗ Does not beat a list by churn risk" in said
    assert "alias challenger" in said


def test_a_lead_over_random_within_chance_is_not_called_a_loss():
    # Its Qini coefficient is above both others', but its lead over a random list is not
    # beyond chance: the page says so and cites the interval, not just 0.122 against 0.000.
    said = gate(render_uplift_report(within_chance("en")))

    assert said.startswith(
        "This model is not used for the lists yet, because its list does not beat a random "
        "list beyond chance (Qini coefficient 0.122 against 0.000, but the 95% interval of its "
        "lead, \u22120.031 to +0.232, does not lie above 0) and it was not checked on a later "
        "campaign"
    )
    assert "✗ Does not beat a random list beyond chance" in said
    assert "✓ Beats a list by churn risk: Qini coefficient 0.122 against 0.040." in said
    assert "Against a random list its lead must be beyond chance" in said
    assert "It must also at least match a list by churn risk: a higher Qini coefficient is" in said
    assert gate(render_uplift_report(within_chance("it"))).startswith(
        "Questo modello non è ancora usato per le liste, perché la sua lista non batte una "
        "lista a caso in modo significativo (coefficiente di Qini 0,122 contro 0,000, ma "
        "l'intervallo al 95% del suo vantaggio, da \u22120,031 a +0,232, non sta sopra lo 0)"
    )


def test_a_forced_model_is_used_although_it_failed():
    page = render_uplift_report(failed("en", "forced"))
    said = gate(page)

    assert '<section class="gate forced">' in page
    assert said.startswith("This model is used for the lists, although it did not pass the checks")
    assert (
        "It was put into use by hand, although its list does not beat a list by churn risk "
        "(Qini coefficient 0.101 against 0.119)." in said
    )
    assert "not used for the lists yet" not in said


def test_italian_verdicts():
    assert gate(render_uplift_report(uplift("it"))).startswith(
        "Questo modello è usato per le liste"
    )
    assert gate(render_uplift_report(failed("it"))).startswith(
        "Questo modello non è ancora usato per le liste, perché la sua lista non batte una "
        "lista per rischio di abbandono (coefficiente di Qini 0,101 contro 0,119)."
    )
    assert gate(render_uplift_report(failed("it", "forced"))).startswith(
        "Questo modello è usato per le liste, anche se non ha superato i controlli"
    )


def test_every_failed_check_is_a_reason():
    view = failed("en")
    for check in view["gate"]["checks"]:
        check["ok"] = False

    said = gate(render_uplift_report(view))

    assert (
        "because its list does not beat a random list beyond chance (Qini coefficient 0.101 "
        "against 0.000, but the 95% interval of its lead, +0.039 to +0.163, does not lie above "
        "0), its list does not beat a list by churn risk (Qini coefficient 0.101 against 0.119) "
        "and it was not checked on a later campaign, only on a random part of the data it "
        "learned from." in said
    )
    assert said.count("✗") == 3


def test_a_failed_gate_without_checks_still_says_why():
    view = failed("en")
    view["gate"]["checks"] = []

    said = gate(render_uplift_report(view))

    assert "not used for the lists yet, because it did not pass the checks." in said
    assert "To be used" not in said


def test_the_holdout_of_a_later_campaign():
    shown = text(render_uplift_report(uplift("en")))

    assert (
        "It learned from past lists (May 31, 2024 and June 30, 2024): 1,800 customers, 900 "
        "contacted and 900 in the control group." in shown
    )
    assert (
        "checked on a later campaign it did not learn from, the list of August 31, 2024: 1,031 "
        "customers, 513 contacted and 518 in the control group." in shown
    )
    assert (
        "a contact changed the share who stayed by +18.1 points on average (95% interval: "
        "+12.0 to +24.2 points)" in shown
    )
    assert "not shown yet" not in shown.split("How to read")[0]


def test_an_average_effect_whose_interval_includes_0_is_not_shown_yet():
    view = uplift("en")
    view["holdout"]["average_effect"] = {"value": 0.02, "low": -0.03, "high": 0.07}

    shown = text(render_uplift_report(view))

    assert "Its interval includes 0: on these customers, the campaign's average effect" in shown


def test_a_features_table_names_its_file_and_its_response_model():
    page = render_uplift_report(hillstrom("en"))
    shown = text(page)

    assert "a table of customers, data/shops/hillstrom/hillstrom.csv.zip, not from the shop" in (
        shown
    )
    assert "Here the ranking to beat is a response model, not a churn risk" in shown
    assert "a model of the chance of visiting that does not look at whether" in shown
    assert "By the response model" in shown
    assert "By churn risk" not in shown
    # The outcome is a visit: extra visits, not customers kept.
    assert "<h2>Extra visits as the list grows: the Qini curve</h2>" in page
    assert "Customers kept" not in shown
    assert "the share who visited" in shown
    assert "It learned from the rest of the table: 44,800 customers" in shown
    assert "checked on a random part of the customers, set aside before training: 19,200" in shown
    assert "✗ Not checked on a later campaign" in gate(page)
    assert "not used for the lists yet, because it was not checked on a later campaign" in gate(
        page
    )


def test_italian_features_table():
    shown = text(render_uplift_report(hillstrom("it")))

    assert "Qui l'ordine da battere è un modello di risposta" in shown
    assert "Secondo il modello di risposta" in shown
    assert "Visite in più" in shown
    assert "$" not in shown
    assert "565\xa0USD" in shown


def test_the_curves_draw_three_rankings_wide_and_narrow():
    page = render_uplift_report(uplift("en"))

    for chart_id in ("chart-qini", "chart-qini-narrow", "chart-uplift", "chart-uplift-narrow"):
        drawn = chart(page, chart_id)
        assert 'role="img"' in drawn
        assert drawn.count('class="curve"') == 3
        for name in ("By uplift (this model)", "By churn risk", "At random"):
            assert f"<title>{name}</title>" in drawn
        # The random list is the dashed line.
        assert drawn.count("stroke-dasharray") == 1
    assert "<title>Qini curve</title>" in chart(page, "chart-qini")
    assert "<title>Uplift curve</title>" in chart(page, "chart-uplift")
    # Across, the share of the customers checked.
    assert ">100%</text>" in chart(page, "chart-qini")


def test_a_curve_below_zero_and_with_a_gap():
    drawn = charts.curves(
        "c",
        "A Qini curve",
        [
            charts.Curve(
                "model", "#000", [(0, 0.0), (0.25, -30.0), (0.5, None), (0.75, 10.0), (1, 20.0)]
            ),
            charts.Curve("random", "#999", [(0, 0.0), (1, 20.0)], dashed=True),
        ],
        str,
        lambda value: f"{value:.0f}",
        "across",
        "up",
        "nothing",
    )

    # The gap splits the model's curve in two; a tick below 0 and a darker zero line.
    assert drawn.count('class="curve"') == 3
    assert ">-30</text>" in drawn or ">-40</text>" in drawn
    assert 'class="zero"' in drawn
    assert ">-0</text>" not in drawn


def test_no_curve_says_so():
    view = uplift("en")
    view["curves"] = {"qini": {}, "uplift": {"model": [], "risk": [], "random": []}}

    page = render_uplift_report(view)

    assert page.count("No curve to draw.") == 4
    assert 'class="curve"' not in page


def test_the_qini_coefficients_and_the_models_lead():
    qini = table(render_uplift_report(uplift("en")), "qini")
    found = [text(row) for row in rows(qini)]

    assert found[0].split() == ["By", "uplift", "(this", "model)", "0.213"]
    # The interval sits under the lead, in a block of its own.
    assert "0.119 +0.095+0.021 to +0.163 This model ranks better" in found[1]
    assert "0.000 +0.213+0.150 to +0.272 This model ranks better" in found[2]


def test_a_lead_whose_interval_includes_0_is_not_shown_yet():
    qini = table(render_uplift_report(failed("en")), "qini")

    assert "\u22120.018\u22120.089 to +0.054 Not shown yet" in text(rows(qini)[1])


def test_uplift_at_k_in_points():
    at = table(render_uplift_report(uplift("en")), "uplift-at")

    assert [text(row).strip() for row in rows(at)] == [
        "First 10% +31.2 points +20.3 points",
        "First 20% +28.6 points +19.7 points",
        "First 30% +25.6 points +19.0 points",
    ]


def test_the_budget_table_shows_kept_and_revenue_by_each_ranking_with_the_best_in_bold():
    page = render_uplift_report(uplift("en"))
    budget = table(page, "budget")
    first = rows(budget)[1]

    assert len(rows(budget)) == 5
    assert text(first).split() == [
        "10%", "of", "the", "customers", "(103)", "+32", "+21", "+19", "+£2,247", "+£1,463",
        "+£1,309",
    ]  # fmt: skip
    # The sign is glued to its number by a word joiner.
    assert '<td class="num best" data-label="Customers kept, by uplift">+\u206032</td>' in first
    assert 'data-label="Extra revenue, by churn risk">+\u2060£1,463</td>' in first
    assert first.count(" best") == 2
    # At half the customers, a random list keeps more than one by churn risk.
    assert 'class="num best" data-label="Customers kept, by uplift">+\u2060107<' in budget


def test_the_budget_table_signs_losses_with_a_true_minus_and_never_shows_minus_zero():
    view = uplift("en")
    view["budget"][0] |= {"kept_risk": -0.3, "revenue_risk": -0.004, "kept_random": -3.4}
    view["budget"][0] |= {"revenue_random": -7342.0}

    first = text(rows(table(render_uplift_report(view), "budget"))[0])

    assert first.split()[-6:] == ["+17", "0", "\u22123", "+£1,204", "£0.00", "\u2212£7,342"]
    assert "-" not in first


def test_the_cards_show_the_list_of_a_tenth():
    page = render_uplift_report(uplift("en"))
    cards = re.search(r'<section class="cards">.*?</section>', page, flags=re.DOTALL).group(0)
    shown = text(cards)

    assert "Customers kept by a list of 10% +32 By churn risk: +21; at random: +19" in shown
    assert "Qini coefficient 0.213 By churn risk: 0.119; at random: 0.000" in shown
    assert "Left alone 7.1%" in shown
    assert "card alert" not in cards


def test_a_model_that_does_not_beat_risk_has_its_qini_card_called_out():
    page = render_uplift_report(failed("en"))

    assert re.search(r'<div class="card alert"><div class="label">Qini coefficient', page)


def test_customers_with_negative_uplift_are_left_alone():
    shown = text(render_uplift_report(uplift("en")))

    assert "7.1% of the customers checked have a negative uplift" in shown
    assert "Selection by uplift never puts them on a list" in shown
    assert "Clienti esaminati con uplift negativo: 7,1%." in text(
        render_uplift_report(uplift("it"))
    )


def test_missing_figures_are_dashes():
    view = uplift("en")
    view["qini"] |= {"model": None, "model_minus_risk": {"mean": None, "low": None, "high": None}}
    view["holdout"]["average_effect"] = {"value": None, "low": None, "high": None}
    view["uplift_at"][0]["model"] = None
    view["budget"][1] |= {"kept_model": None, "revenue_model": None}
    view["negative_share"] = None
    view["gate"]["checks"][0]["model"] = None
    view["curves"]["qini"]["model"][40][1] = None

    page = render_uplift_report(view)
    shown = text(page)

    assert "Qini coefficient – By churn risk: 0.119" in shown
    assert "First 10% – +20.3 points" in shown
    assert "– of the customers checked have a negative uplift" in shown
    assert "Beats a random list beyond chance: Qini coefficient – against 0.000," in shown
    assert "10% of the customers (103) – +21 +19 – +£1,463 +£1,309" in shown
    assert "None" not in shown
    assert "nan" not in shown
    # The gap splits the model's Qini curve in two.
    assert chart(page, "chart-qini").count('class="curve"') == 4


def test_hostile_strings_are_escaped():
    hostile = "<script>alert(1)</script>"
    view = hillstrom("en", table=hostile)
    view["model"] |= {"name": hostile, "version": hostile}
    view["gate"]["alias"] = hostile
    later = uplift("en")
    later["holdout"]["campaign"] = hostile
    later["train"]["campaigns"] = [hostile, "2024-06-30"]

    for page in (render_uplift_report(view), render_uplift_report(later)):
        assert "<script" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_technical_name_is_shown():
    for view in (uplift("en"), failed("en", "forced"), hillstrom("en"), uplift("it")):
        shown = text(render_uplift_report(view))
        for key in (
            "model_minus_risk",
            "model_minus_random",
            "kept_model",
            "kept_risk",
            "kept_random",
            "revenue_model",
            "beats_risk",
            "beats_random",
            "later_campaign",
            "average_effect",
            "negative_share",
            "uplift_at",
            "risk_name",
        ):
            assert key not in shown, key
        # No message id either (scikit-uplift, the library's name, is no id).
        assert not re.search(r"(?<![-\w])(uplift|outcomes)\.[a-z]", shown)


def test_every_table_scrolls_in_its_own_container():
    page = render_uplift_report(uplift("en"))

    # Qini coefficients, uplift at k%, budget.
    assert page.count("<table") == 3
    assert page.count('<div class="table-scroll"') == 3


def test_page_is_self_contained():
    page = render_uplift_report(uplift("en"))

    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "<link" not in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"locale": "xx"}, "locale"),
        ({"source": "guess"}, "source"),
        ({"outcome": "happiness"}, "outcome"),
        ({"model": {"name": "m", "version": "1", "learner": "x"}}, "learner"),
        ({"gate": {"verdict": "maybe", "alias": "champion", "checks": []}}, "gate verdict"),
        ({"gate": {"verdict": "passed", "checks": [{"check": "vibes", "ok": True}]}}, "gate check"),
    ],
)
def test_bad_view_models_raise_value_error(change, message):
    with pytest.raises(ValueError, match=message):
        render_uplift_report(uplift("en") | change)


def test_an_unknown_split_raises():
    view = uplift("en")
    view["holdout"]["split"] = "sideways"

    with pytest.raises(ValueError, match="holdout split"):
        render_uplift_report(view)


def test_the_view_model_is_not_changed():
    view = failed("en", "forced")
    before = copy.deepcopy(view)

    render_uplift_report(view)

    assert view == before


def test_write_uplift_report_writes_utf8(tmp_path: Path):
    path = write_uplift_report(uplift("it"), tmp_path / "uplift_report.html")

    assert path == tmp_path / "uplift_report.html"
    assert "2.247\xa0€" in path.read_text(encoding="utf-8")
