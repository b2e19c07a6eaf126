"""The marketers' summary page: the words of each language, Babel's formats, the list's
horizon, escaping, charts and self-containment."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from churn.reporting.summary_page import render_summary, write_summary
from churn.text import messages as messages_module
from tests.summary_fixture import summary


def svg(page: str, chart_id: str) -> str:
    """The one inline SVG with id ``chart_id``."""
    found = re.findall(rf'<svg id="{chart_id}".*?</svg>', page, flags=re.DOTALL)
    assert len(found) == 1
    return found[0]


def cards(page: str) -> str:
    return re.search(r'<section class="cards">.*?</section>', page, flags=re.DOTALL).group(0)


def test_english_page_has_english_headings_and_language():
    page = render_summary(summary("en"))

    assert '<html lang="en">' in page
    assert "<h2>Why customers are on the list</h2>" in page


def test_italian_page_has_italian_headings_and_language():
    page = render_summary(summary("it"))

    assert '<html lang="it">' in page
    assert "<h2>Perché i clienti sono nella lista</h2>" in page


def test_horizon_is_said_in_words_with_its_end_date():
    page = render_summary(summary("en"))

    assert "in the next 90 days, that is by <b>March 8, 2012</b>" in page


def test_italian_horizon_names_the_italian_date():
    assert "fino alla data del <b>8 marzo 2012</b>" in render_summary(summary("it"))


def test_value_at_risk_says_both_of_its_periods():
    note = re.search(
        r"Value at risk</div>.*?</div></div>", cards(render_summary(summary())), flags=re.DOTALL
    )

    assert "the next 12" in note.group(0)
    assert "next 90 days" in note.group(0)


def test_headline_card_says_on_the_list_in_budget_mode():
    selection = {
        "mode": "budget",
        "share": None,
        "top_k": None,
        "budget": 600.0,
        "cost_per_contact": 1.5,
        "listed": 400,
    }
    page = render_summary(summary("en", selection=selection))

    assert '<div class="label">On the list</div>' in cards(page)
    assert "At risk" not in cards(page)
    assert "A budget of £600 at £1.50 per contact pays for 400 contacts" in page


def test_money_in_cards_is_in_whole_units():
    # 187,654.321 in the fixture.
    assert '<div class="figure">£187,654</div>' in cards(render_summary(summary("en")))


def test_italian_money_has_a_no_break_space_before_the_symbol():
    page = render_summary(summary("it", currency="EUR"))

    assert '<div class="figure">187.654\xa0€</div>' in cards(page)


def test_thousands_separators_follow_the_language():
    assert ">4,338<" in cards(render_summary(summary("en")))
    assert ">4.338<" in cards(render_summary(summary("it")))


def test_listed_share_has_one_decimal_in_each_language():
    # 421 of 4,338 customers scored.
    assert "9.7% of the customers scored" in render_summary(summary("en"))
    assert "Quota dei clienti analizzati: 9,7%" in render_summary(summary("it"))


def test_names_come_from_the_lists_catalog():
    page = render_summary(summary("it"))

    assert "Rischio alto" in page
    assert "<td>Offerta fedeltà</td>" in page


def test_no_technical_name_is_shown():
    page = render_summary(summary("en"))

    assert "technical" not in page
    for key in ("rhythm_reminder", "no_personalisation", "bgnbd", "days_since"):
        assert key not in page.replace("by_action/rhythm_reminder.csv", "")


def test_each_action_names_its_file_and_customers():
    page = render_summary(summary("en"))
    row = re.search(r"<tr><td>Loyalty offer</td>.*?</tr>", page, flags=re.DOTALL).group(0)

    assert ">43<" in row
    assert "by_action/loyalty_offer.csv" in row


def test_chosen_list_size_is_highlighted_and_said_in_words():
    page = render_summary(summary("en"))
    chosen = re.findall(r'<tr class="chosen">.*?</tr>', page, flags=re.DOTALL)

    assert len(chosen) == 1
    assert "Top 10%" in chosen[0]
    assert "The configuration chose the <b>10%</b> of customers with the most value at risk" in page
    assert ">63%<" in chosen[0]


def test_grand_total_of_the_segment_table():
    page = render_summary(summary("en"))
    total_row = re.search(r'<tr class="total">.*?</tr>', page, flags=re.DOTALL).group(0)

    assert ">421<" in total_row
    assert "£187,654" in total_row


def test_hostile_strings_are_escaped():
    hostile = "<script>alert(1)</script>"
    made = summary("en", files={"csv": hostile}, model={"name": hostile, "version": hostile})
    made["themes"][0]["example"] = hostile
    made["actions"][0]["file"] = hostile
    made["by_segment_tier"][0]["segment"] = hostile

    page = render_summary(made)

    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_page_is_self_contained():
    page = render_summary(summary("en"))

    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "<link" not in page


def test_every_table_scrolls_in_its_own_container():
    page = render_summary(summary("en"))

    assert page.count("<table") == 4
    assert page.count('<div class="table-scroll"') == 4


@pytest.mark.parametrize("chart_id", ["chart-segments", "chart-themes", "chart-histogram"])
def test_each_chart_is_an_accessible_inline_svg(chart_id):
    chart = svg(render_summary(summary("en")), chart_id)

    assert 'role="img"' in chart
    assert "<title>" in chart
    assert chart.count('class="bar"') >= 1


def test_each_chart_has_a_phone_copy():
    page = render_summary(summary("en"))

    assert page.count("<svg") == 6
    assert svg(page, "chart-histogram-narrow").count('class="bar"') == 10


def test_segment_chart_has_one_bar_per_segment():
    assert svg(render_summary(summary("en")), "chart-segments").count('class="bar"') == 4


def test_empty_list_notice_says_why():
    made = summary(
        "en", empty_reason={"code": "budget_too_small", "budget": 1.0, "cost_per_contact": 2.5}
    )

    page = render_summary(made)

    assert '<p class="notice">The list is empty: a budget of €1.00' not in page
    assert "a budget of £1.00 at £2.50 per contact buys no contact" in page


def test_empty_list_notice_in_italian():
    made = summary("it", empty_reason={"code": "no_one_scored"})

    assert "La lista è vuota: nessun cliente è stato valutato." in render_summary(made)


def test_an_empty_list_renders_without_rows():
    totals = dict(summary()["totals"], listed=0, value_at_risk=0.0)
    made = summary(
        "en",
        totals=totals,
        by_segment_tier=[],
        themes=[],
        actions=[],
        list_sizes=[],
        empty_reason={"code": "top_k_zero"},
    )

    page = render_summary(made)

    assert "The list is empty because the configuration asks for 0 customers." in page
    # Groups, reasons and actions each say so, with no empty chart or table.
    assert page.count("<p>No customers on the list.</p>") == 3
    assert "chart-segments" not in page
    assert "chart-themes" not in page
    assert 'class="segments"' not in page


def test_unknown_locale_raises_value_error():
    with pytest.raises(ValueError, match="locale"):
        render_summary(summary("xx"))


def test_unknown_tier_raises_value_error():
    rows = [{"segment": "vip", "tier": "extreme", "customers": 1, "value_at_risk": 1.0}]

    with pytest.raises(ValueError, match="tier"):
        render_summary(summary("en", by_segment_tier=rows))


def test_write_summary_writes_utf8(tmp_path: Path):
    path = write_summary(summary("it", currency="EUR"), tmp_path / "summary.html")

    assert path == tmp_path / "summary.html"
    assert "187.654\xa0€" in path.read_text(encoding="utf-8")


FRENCH_PAGES = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: fr\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"

msgid "summary.title"
msgstr "Clients qui risquent de partir"

msgid "summary.card.listed"
msgstr "Sur la liste"

msgid "summary.tier_risk"
msgstr "risque {tier}"
"""

FRENCH_LISTS = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: fr\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"

msgid "tier.high"
msgstr "élevé"
"""


def test_a_new_language_is_a_new_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    catalogs = tmp_path / "catalogs"
    shutil.copytree(messages_module.CATALOG_DIR, catalogs)
    (catalogs / "fr").mkdir()
    (catalogs / "fr" / "pages.po").write_text(FRENCH_PAGES, encoding="utf-8")
    (catalogs / "fr" / "lists.po").write_text(FRENCH_LISTS, encoding="utf-8")
    monkeypatch.setattr(messages_module, "CATALOG_DIR", catalogs)
    messages_module.messages.cache_clear()
    try:
        page = render_summary(summary("fr", currency="EUR"))
    finally:
        messages_module.messages.cache_clear()

    assert '<html lang="fr">' in page
    assert "<h1>Clients qui risquent de partir</h1>" in page
    assert '<div class="label">Sur la liste</div>' in page
    assert "Risque élevé" in page
    # French number formats: a narrow no-break space between thousands, a decimal comma,
    # the euro sign after the amount; a message French lacks falls back to English.
    assert "4\u202f338" in page
    assert "187\u202f654\xa0€" in page
    assert "9,7%" in page
    assert "8 mars 2012" in page
    assert "<h2>Where the risk is</h2>" in page


def test_a_chosen_size_that_is_no_share_is_said_as_a_count():
    view = summary("en")
    view["selection"] = {**view["selection"], "mode": "top_k", "share": None, "top_k": 300}
    view["list_sizes"] = [
        {**row, "chosen": False} for row in view["list_sizes"] if row["share"] != 0.1
    ] + [
        {
            "share": None,
            "customers": 300,
            "expected_leavers": 240.0,
            "would_stay": 60.0,
            "leavers_reached_share": 0.2,
            "value_reached_share": 0.5,
            "chosen": True,
        }
    ]
    page = render_summary(view)
    chosen = re.findall(r'<tr class="chosen">.*?</tr>', page, flags=re.DOTALL)
    assert "First 300" in chosen[0]
    assert "The configuration&#39;s list has <b>300</b> customers, among whom about 240" in page


def test_expected_leavers_and_stayers_add_up_to_the_list():
    view = summary("en")
    view["list_sizes"] = [
        {**row, "expected_leavers": 162.5, "would_stay": 264.5, "customers": 427}
        if row["chosen"]
        else row
        for row in view["list_sizes"]
    ]
    page = render_summary(view)
    assert "among whom about 163 would leave and 264 would have stayed anyway" in page


def test_the_control_group_is_explained_with_its_size_share_and_contact_date():
    html = render_summary(summary())
    text = " ".join(html.split())
    assert "<b>47</b> (10% of each customer group and risk level, drawn at random)" in text
    assert "Do not contact them" in text
    assert "taken as contacted on December 10, 2011" in text


def test_the_control_group_is_explained_in_italian():
    html = render_summary(summary(locale="it"))
    assert "gruppo di controllo" in html and "10 dicembre 2011" in html


def test_a_run_without_a_control_group_says_its_effect_cannot_be_measured():
    s = summary()
    s["selection"]["control_fraction"] = 0.0
    s["totals"]["control"] = 0
    assert "No control group was held out" in render_summary(s)


def test_a_list_drawn_whole_into_the_control_group_says_so():
    s = summary()
    s["totals"]["listed"] = 0
    s["empty_reason"] = {"code": "all_in_control", "customers": 1}
    assert "all 1 customers chosen were drawn into the control group" in render_summary(s)


def test_an_uplift_list_says_how_many_were_left_alone_for_their_negative_uplift():
    s = summary()
    s["selection"]["mode"] = "uplift"
    s["selection"]["uplift"] = {
        "model": {"name": "churn-uplift", "version": "2"},
        "fallback": None,
        "negative_uplift": 310,
        "left_alone_negative_uplift": 37,
    }
    text = " ".join(render_summary(s).split())
    assert "the customers a contact is most likely to keep" in text
    assert "<b>37</b> customers a list by value at risk would have held are left alone" in text
    assert "In all, 310 customers scored are better not contacted" in text


def test_an_uplift_list_without_an_uplift_model_says_it_fell_back_to_value_at_risk():
    s = summary()
    s["selection"]["uplift"] = {"model": None, "fallback": "no uplift model"}
    assert "no uplift model has passed its checks yet" in render_summary(s)


def test_an_uplift_list_is_explained_in_italian():
    s = summary(locale="it")
    s["selection"]["mode"] = "uplift"
    s["selection"]["uplift"] = {
        "fallback": None,
        "negative_uplift": 3,
        "left_alone_negative_uplift": 1,
    }
    assert "lasciati in pace" in render_summary(s)


def test_the_size_chosen_says_it_counts_the_control_group():
    text = " ".join(render_summary(summary()).split())
    assert "They include the 47 customers held out as the control group" in text
