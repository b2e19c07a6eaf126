"""The retention report page: languages, number formats, escaping, cohort table, optional
sections, self-containment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from churn.reporting.retention_page import render_retention_report, write_retention_report


def make_report(locale: str = "en", **changes: Any) -> dict[str, Any]:
    """A tiny report: 3 months, a 2-cohort triangle, 1 segment, no scoring run."""
    report: dict[str, Any] = {
        "locale": locale,
        "currency": "EUR",
        "source": "shop.parquet",
        "period": "month",
        "first_date": "2024-01-01",
        "last_date": "2024-03-31",
        "periods": [
            {
                "period": "2024-01",
                "active": 100,
                "retained": 0,
                "retention_rate": None,
                "churn_rate": None,
                "repeat_purchase_rate": 0.1,
                "new_customers": 100,
                "revenue": 5000.0,
            },
            {
                "period": "2024-02",
                "active": 90,
                "retained": 40,
                "retention_rate": 0.4,
                "churn_rate": 0.6,
                "repeat_purchase_rate": 0.125,
                "new_customers": 50,
                "revenue": 4200.0,
            },
            {
                "period": "2024-03",
                "active": 80,
                "retained": 36,
                "retention_rate": 0.4,
                "churn_rate": 0.6,
                "repeat_purchase_rate": 0.15,
                "new_customers": 44,
                "revenue": 1234.5,
            },
        ],
        "cohorts": [
            {
                "cohort": "2024-01",
                "months_since_first": 0,
                "customers": 100,
                "retained": 100,
                "retention_rate": 1.0,
            },
            {
                "cohort": "2024-01",
                "months_since_first": 1,
                "customers": 100,
                "retained": 40,
                "retention_rate": 0.4,
            },
            {
                "cohort": "2024-02",
                "months_since_first": 0,
                "customers": 50,
                "retained": 50,
                "retention_rate": 1.0,
            },
        ],
        "segments": [
            {
                "segment": "web",
                "periods": [
                    {"period": "2024-02", "retention_rate": 0.5},
                    {"period": "2024-03", "retention_rate": 0.45},
                ],
            }
        ],
        "at_risk": None,
        "campaigns": NO_CAMPAIGNS,
    }
    report.update(changes)
    return report


AT_RISK = {"as_of": "2024-03-31", "customers_scored": 200, "at_risk": 25, "value_at_risk": 987.5}
NO_CAMPAIGNS: dict[str, Any] = {
    "source": "lists",
    "lists": 0,
    "response_days": 14,
    "conversion_days": 90,
    "rows": [],
}


def campaign_row(campaign: str, month: str, contacted: int, response, conversion, **changes):
    row = {
        "campaign": campaign,
        "list_as_of": None,
        "month": month,
        "contacted": contacted,
        "responded": None,
        "response_rate": response,
        "converted": None,
        "conversion_rate": conversion,
        "control": 0,
        "control_responded": 0,
        "control_response_rate": None,
        "control_converted": 0,
        "control_conversion_rate": None,
        "response_complete": True,
        "conversion_complete": True,
    }
    return row | changes


# A contact log's campaigns, with the rates of tests/test_campaign_rates.py moved into the
# report's months: a campaign with a control group, then one whose last windows are open.
CAMPAIGNS: dict[str, Any] = {
    "source": "log",
    "file": "data/contacts.csv",
    "contact_rows": 12,
    "response_days": 14,
    "conversion_days": 90,
    "rows": [
        campaign_row(
            "winter",
            "2024-01",
            5,
            0.2,
            0.4,
            control=2,
            control_response_rate=0.5,
            control_conversion_rate=0.5,
        ),
        campaign_row("winter", "2024-02", 1, 1.0, 1.0),
        campaign_row("spring", "2024-02", 2, 0.0, 0.5, conversion_complete=False),
        campaign_row(
            "spring", "2024-03", 1, 1.0, 1.0, response_complete=False, conversion_complete=False
        ),
    ],
}


def cohort_rows(page: str) -> list[str]:
    return re.findall(r'<tr class="cohort">.*?</tr>', page, flags=re.DOTALL)


def test_english_and_italian_headings_differ():
    english = render_retention_report(make_report("en"))
    italian = render_retention_report(make_report("it"))

    assert "<h2>How to read this page</h2>" in english
    assert "<h2>Come leggere questa pagina</h2>" in italian
    assert "<h2>How to read this page</h2>" not in italian


def test_english_revenue_is_money_with_the_symbol_first():
    assert "€1,234.50" in render_retention_report(make_report("en"))


def test_italian_revenue_is_money_with_a_decimal_comma_and_the_symbol_last():
    page = render_retention_report(make_report("it"))

    # Babel puts a no-break space before the euro sign, so the amount never wraps apart.
    assert "1.234,50\xa0€" in page
    assert "€1,234.50" not in page


def test_rates_are_percentages_with_one_decimal_in_each_language():
    assert "12.5%" in render_retention_report(make_report("en"))
    assert "12,5%" in render_retention_report(make_report("it"))


def test_script_in_source_is_escaped():
    page = render_retention_report(make_report("en", source="<script>alert(1)</script>"))

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_segment_names_are_escaped():
    segments = [
        {"segment": "<b>web</b>", "periods": [{"period": "2024-02", "retention_rate": 0.5}]}
    ]

    page = render_retention_report(make_report("en", segments=segments))

    assert "&lt;b&gt;web&lt;/b&gt;" in page
    assert "<b>web</b>" not in page


def test_page_has_no_script_and_no_url():
    page = render_retention_report(make_report("en", at_risk=AT_RISK))

    assert "<script" not in page
    assert "http" not in page


def test_heatmap_has_one_row_per_cohort():
    assert len(cohort_rows(render_retention_report(make_report("en")))) == 2


def test_heatmap_has_a_cell_for_each_month_in_every_row():
    rows = cohort_rows(render_retention_report(make_report("en")))

    # Months 0 and 1; the younger cohort's month 1 is an empty cell.
    assert [row.count('<td class="cell') for row in rows] == [2, 2]
    assert rows[1].count('<td class="cell empty">') == 1


def test_heatmap_shows_the_cohort_size():
    first, second = cohort_rows(render_retention_report(make_report("en")))

    assert '<td class="num">100</td>' in first
    assert '<td class="num">50</td>' in second


def test_missing_rate_renders_a_dash():
    page = render_retention_report(make_report("en"))
    first_period = re.search(r"<tr><td>Jan 2024</td>.*?</tr>", page).group(0)

    assert first_period.count(">–<") == 2


def test_retention_card_uses_the_last_complete_period():
    periods = make_report()["periods"]
    periods[-1] |= {"retention_rate": None, "churn_rate": None}

    page = render_retention_report(make_report("en", periods=periods))
    cards = re.search(r'<section class="cards">.*?</section>', page, flags=re.DOTALL).group(0)

    assert "Feb 2024: customers of the previous month" in cards


def test_at_risk_cards_appear_when_given():
    page = render_retention_report(make_report("en", at_risk=AT_RISK))

    assert "At risk of leaving" in page
    assert "12.5% of the 200 customers scored on March 31, 2024" in page


def test_money_in_cards_is_rounded_to_whole_units():
    page = render_retention_report(make_report("en", at_risk=AT_RISK))
    cards = re.search(r'<section class="cards">.*?</section>', page, flags=re.DOTALL).group(0)

    # Revenue of the last month 1,234.50 and value at risk 987.50, rounded half to even.
    assert '<div class="figure">€1,234</div>' in cards
    assert '<div class="figure">€988</div>' in cards


def test_italian_dates_and_months_are_in_italian():
    page = render_retention_report(make_report("it"))

    assert "dal 1 gennaio 2024 al 31 marzo 2024" in page
    assert "<td>gen 2024</td>" in page


def test_quarters_are_labelled_per_language():
    periods = [dict(row, period=f"2024-Q{i}") for i, row in enumerate(make_report()["periods"], 1)]

    assert "<td>Q3 2024</td>" in render_retention_report(make_report("en", periods=periods))
    assert "<td>T3 2024</td>" in render_retention_report(make_report("it", periods=periods))


def test_at_risk_cards_are_absent_without_a_scoring_run():
    page = render_retention_report(make_report("en"))

    assert "At risk of leaving" not in page
    assert 'class="card alert"' not in page


def test_segment_chart_has_one_line_per_segment():
    page = render_retention_report(make_report("en"))
    chart = re.search(r'<svg id="chart-segments".*?</svg>', page, flags=re.DOTALL).group(0)

    assert chart.count('class="line"') == 1


def test_segment_section_is_omitted_without_segments():
    page = render_retention_report(make_report("en", segments=[]))

    assert "chart-segments" not in page
    assert "Retention by customer group" not in page


def test_unknown_locale_raises_value_error():
    with pytest.raises(ValueError, match="locale"):
        render_retention_report(make_report("fr"))


def test_unknown_period_raises_value_error():
    with pytest.raises(ValueError, match="period"):
        render_retention_report(make_report("en", period="week"))


def test_write_retention_report_writes_utf8(tmp_path: Path):
    path = write_retention_report(make_report("it"), tmp_path / "retention.html")

    assert path == tmp_path / "retention.html"
    assert "1.234,50\xa0€" in path.read_text(encoding="utf-8")


# --- campaigns ------------------------------------------------------------------------------


def campaign_section(page: str) -> str:
    return re.search(r"<section>\s*<h2>Campa.*?</section>", page, flags=re.DOTALL).group(0)


def campaign_rows(page: str) -> list[str]:
    return re.findall(r"<tr><td>.*?</tr>", campaign_section(page), flags=re.DOTALL)


def test_campaign_rates_per_month_in_english():
    rows = campaign_rows(render_retention_report(make_report("en", campaigns=CAMPAIGNS)))

    assert len(rows) == 4
    assert "<td>winter</td>" in rows[0] and ">Jan 2024<" in rows[0]
    assert [re.findall(r"<span>([^<]*)", row) for row in rows[:2]] == [
        ["20.0%", "40.0%", "50.0%", "50.0%"],
        ["100.0%", "100.0%", "–", "–"],
    ]


def test_campaign_rates_per_month_in_italian():
    page = render_retention_report(make_report("it", campaigns=CAMPAIGNS))
    first = campaign_rows(page)[0]

    assert "<h2>Campagne: risposta e conversione per mese</h2>" in page
    assert ">gen 2024<" in first
    assert re.findall(r"<span>([^<]*)", first) == ["20,0%", "40,0%", "50,0%", "50,0%"]


def test_campaigns_come_right_after_the_retention_and_churn_trend():
    page = render_retention_report(make_report("en", campaigns=CAMPAIGNS))
    headings = re.findall(r"<h2>(.*?)</h2>", page)

    trend = headings.index("Retention and churn over time")
    assert headings[trend + 1] == "Campaigns: response and conversion by month"


def test_the_campaign_table_stacks_on_a_phone_with_each_value_named():
    page = render_retention_report(make_report("en", campaigns=CAMPAIGNS))
    row = campaign_rows(page)[0]

    assert '<table class="campaigns stack">' in page
    assert row.count("data-label=") == 7
    assert 'data-label="Response, control group"' in row


def test_how_to_read_defines_response_and_conversion_in_both_languages():
    english = render_retention_report(make_report("en", campaigns=CAMPAIGNS))
    italian = render_retention_report(make_report("it", campaigns=CAMPAIGNS))

    assert (
        "<b>Response rate</b>: of the customers a campaign contacted, the share who placed an "
        "order within 14 days of the contact. <b>Conversion rate</b>: the share who placed an "
        "order within 90 days of it."
    ) in english
    assert (
        "<b>Tasso di risposta</b>: dei clienti contattati da una campagna, la quota che ha "
        "fatto un ordine entro 14 giorni dal contatto."
    ) in italian


def test_a_rate_whose_window_is_not_over_is_marked_not_final():
    page = render_retention_report(make_report("en", campaigns=CAMPAIGNS))
    rows = campaign_rows(page)

    assert [row.count('<span class="mark">not final</span>') for row in rows] == [0, 0, 1, 2]
    assert "count only the orders up to March 31, 2024, where the data end" in page


def test_without_open_windows_there_is_no_not_final_note():
    campaigns = CAMPAIGNS | {"rows": CAMPAIGNS["rows"][:2]}
    page = render_retention_report(make_report("en", campaigns=campaigns))

    assert '<span class="mark">' not in campaign_section(page)
    assert "count only the orders up to" not in page


def test_without_any_control_group_the_control_columns_are_left_out():
    campaigns = CAMPAIGNS | {"rows": CAMPAIGNS["rows"][1:]}
    section = campaign_section(render_retention_report(make_report("en", campaigns=campaigns)))

    assert "Control group" not in section
    assert "<th>Campaign</th>" in section


def test_a_stored_list_is_named_by_its_date_in_each_language():
    lists = {
        "source": "lists",
        "lists": 1,
        "response_days": 14,
        "conversion_days": 90,
        "rows": [
            campaign_row("list of 2024-02-04", "2024-02", 2, 0.5, 1.0, list_as_of="2024-02-04")
        ],
    }
    english = render_retention_report(make_report("en", campaigns=lists))
    italian = render_retention_report(make_report("it", campaigns=lists))

    assert "<td>List of February 4, 2024</td>" in english
    assert "<td>Lista del 4 febbraio 2024</td>" in italian
    assert "each list of customers at risk counts as one campaign" in english
    assert "contattati il giorno dopo quella data" in italian


def test_the_contact_log_is_named_with_its_rows():
    page = render_retention_report(make_report("en", campaigns=CAMPAIGNS))

    assert "from the contact log data/contacts.csv (12 rows)" in page


def test_campaign_names_are_escaped():
    campaigns = CAMPAIGNS | {"rows": [campaign_row("<i>x</i>", "2024-02", 1, 1.0, 1.0)]}
    page = render_retention_report(make_report("en", campaigns=campaigns))

    assert "<td>&lt;i&gt;x&lt;/i&gt;</td>" in page


@pytest.mark.parametrize("locale", ["en", "it"])
def test_no_message_key_or_group_value_reaches_the_page(locale):
    page = render_retention_report(make_report(locale, campaigns=CAMPAIGNS, at_risk=AT_RISK))
    text = re.sub(r"<[^>]+>", " ", page.split("</style>")[1])

    assert "retention." not in text
    assert not re.search(r"\b(contact_group|list_as_of|response_rate|None|nan)\b", text)


def test_without_campaigns_the_section_says_there_are_none_and_how_to_get_them():
    english = render_retention_report(make_report("en"))
    italian = render_retention_report(make_report("it"))

    assert "No campaigns to show yet." in campaign_section(english)
    assert "(setting <code>data.contacts</code>)" in english
    assert "Ancora nessuna campagna da mostrare." in campaign_section(italian)
    assert "<table" not in campaign_section(english)


def test_campaigns_change_nothing_but_their_section_and_their_line_in_how_to_read():
    def rest(page: str) -> str:
        page = page.replace(campaign_section(page), "")
        return re.sub(r"<li><b>Response rate</b>.*?</li>\n", "", page)

    without = render_retention_report(make_report("en", at_risk=AT_RISK))
    with_campaigns = render_retention_report(
        make_report("en", at_risk=AT_RISK, campaigns=CAMPAIGNS)
    )

    assert "Response rate" not in rest(without)
    assert rest(without) == rest(with_campaigns)
