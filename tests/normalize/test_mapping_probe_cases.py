"""Values a mapping probe found mis-mapped: each is now mapped right, or left unmapped with a
note (a wrong value is a bug; an unmapped value with a note is not)."""

from __future__ import annotations

import polars as pl
import pytest
from normalize_factory import notes_for, one

from normalize import expressions as ex


def apply(expr_fn, values: list[str | None]) -> list:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(expr_fn(pl.col("v")).alias("out"))["out"].to_list()


def first(expr_fn, value: str | None):
    return apply(expr_fn, [value])[0]


def price(text: str | None = None, **fields: str) -> dict[str, str | None]:
    return {"text": text, **fields}


# --- 1. multipliers and instalments -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [("$1.5k", 1500.0), ("$2K", 2000.0), ("1.5 million IDR", 1_500_000.0), ("£1.2m", 1_200_000.0),
     ("₹2 lakh", 200_000.0), ("Rp 1,5 jt", 1_500_000.0),
     # instalments and an ambiguous "mil" give no one price
     ("3x $99", None), ("4 payments of $50", None), ("12x de R$ 99,90", None), ("$99 x 3", None),
     ("10 mil", None),
     # unchanged
     ("$1,299.99", 1299.99), ("Rp 1.500.000", 1_500_000.0), ("100 MXN", 100.0), ("kr 4 995", 4995.0)],
)
def test_price_multipliers_and_instalments(text, amount):
    assert first(ex.parse_price, text)["amount"] == amount


def test_instalments_are_noted_not_priced():
    o = one(prices=[price("4 payments of $50")])
    assert o["price_amount"] is None and o["prices"] == []
    assert notes_for(o, "prices") == ["prices: instalments, not one price '4 payments of $50'"]
    assert one(prices=[price("$1.5k")])["price_amount"] == 1500.0


# --- 2. prices per unit and per period ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per"),
    [("$300 per credit", "credit"), ("$300 per credit hour", "credit"), ("$25/hour", "time"),
     ("$300 per course", "course"), ("$1,500 per semester", "term"), ("Tuition per 6-month term", "term"),
     ("£9,250 per year", "year"), ("€29 / Monat", "month"), ("29 € par mois", "month"),
     ("$49 a month", "month"), ("$399/yr", "year"), ("49 € monatlich", "month"),
     ("$49", None), ("$99 per person", None), ("150 USD per exam", None), ("$49 for a course", None)],
)
def test_price_per(text, per):
    assert first(ex.price_per, text)["per"] == per


@pytest.mark.parametrize("text", ["$300 per credit", "$25/hour", "$300 per course"])
def test_a_price_per_unit_is_noted_not_the_price(text):
    o = one(prices=[price(text)])
    assert o["price_amount"] is None and o["prices"] == []
    assert len(notes_for(o, "prices")) == 1 and "not a course price" in notes_for(o, "prices")[0]


def test_a_price_per_unit_leaves_the_total():
    o = one(prices=[price("$1,200", label="Total program cost"), price("$300", label="Per course")])
    assert o["price_amount"] == 1200.0 and len(o["prices"]) == 1
    assert notes_for(o, "prices") == ["prices: price per course, not a course price '$300'"]


@pytest.mark.parametrize("text", ["€29 / Monat", "29 € par mois", "$49 a month"])
def test_a_monthly_price_in_any_language_is_a_subscription(text):
    o = one(prices=[price(text)])
    assert o["price_amount"] is None
    assert notes_for(o, "prices") == [f"prices: subscription is a price model, not a course price '{text}'"]


def test_a_price_per_term_is_kept_and_noted():
    o = one(prices=[price("$1,500 per semester")])
    assert (o["price_amount"], o["price_currency"]) == (1500.0, "USD")
    assert notes_for(o, "prices") == ["prices: price per semester, not the whole cost '$1,500 per semester'"]


def test_annual_tuition_is_a_price_and_a_bare_yearly_price_no_subscription():
    tuition = one(prices=[price("£9,250 per year", label="Tuition fee")])
    assert (tuition["price_amount"], tuition["price_currency"]) == (9250.0, "GBP")
    assert notes_for(tuition, "prices") == ["prices: price per year, not the whole cost '£9,250 per year'"]
    bare = one(prices=[price("£9,250 per year")])
    assert bare["price_amount"] is None
    assert notes_for(bare, "prices") == [
        "prices: price per year, an annual fee or subscription, not a course price '£9,250 per year'"]
    plus = one(prices=[price("$399 per year", label="Coursera Plus")])
    assert notes_for(plus, "prices") == ["prices: subscription is a price model, not a course price '$399 per year'"]


# --- 3. free and paid ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Free to audit, $49 certificate", "Audit: Free | Certificate: $149", "Free course, paid certificate ($49)"]
)
def test_one_text_free_to_audit_with_a_paid_certificate(text):
    o = one(prices=[price(text)])
    assert o["free_to_audit"] is True and o["is_free"] is False and o["price_amount"] > 0


def test_a_free_certificate_is_not_free_to_audit():
    assert one(prices=[price("$49, free certificate")])["free_to_audit"] is None


def test_a_free_price_beside_a_paid_certificate_is_the_audit_track():
    o = one(prices=[price("Free"), price("$49", label="Certificate")])
    assert (o["price_amount"], o["price_currency"], o["is_free"], o["free_to_audit"]) == (49.0, "USD", False, True)
    assert o["prices"] == [{"amount": 49.0, "currency": "USD", "cost_type": None}]


def test_a_paid_price_is_the_main_price_before_a_free_one():
    o = one(prices=[price("Free"), price("$49")])
    assert (o["price_amount"], o["is_free"]) == (49.0, False)


def test_the_lowest_paid_price_of_one_cost_type_is_the_main_price():
    o = one(prices=[price(amount="1640.0", currency="USD", label="costType:LearningResource"),
                    price(amount="1407.0", currency="USD", label="costType:LearningResource")])
    assert o["price_amount"] == 1407.0 and [p["amount"] for p in o["prices"]] == [1640.0, 1407.0]
    typed = one(prices=[price("$99", label="Course fee"), price("$990", label="Total program price")])
    assert typed["price_amount"] == 990.0  # the cost type comes first


def test_a_free_trial_is_not_free():
    o = one(prices=[price("Free trial")])
    assert o["is_free"] is None and o["price_amount"] is None
    assert notes_for(o, "prices") == ["prices: a free trial, not a price 'Free trial'"]
    assert first(ex.parse_price, "Free trial")["free"] is False
    # the figure of the trial is no price either
    assert first(ex.parse_price, "7-day free trial, then $499")["amount"] == 499.0


def test_a_price_range_is_noted_and_not_free():
    o = one(prices=[price("$0 – $49")])
    assert (o["price_amount"], o["is_free"]) == (49.0, False)
    assert notes_for(o, "prices") == ["prices: range; lowest non-zero price kept '$0 – $49'"]
    assert first(ex.parse_price, "$99 - 2 courses")["note"] is None  # no range: it descends


# --- 4. currency tokens -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency"),
    [("E£ 500", "EGP"), ("L.E. 500", "EGP"), ("LE 500", "EGP"), ("Can$ 499", "CAD"), ("CDN$ 499", "CAD"),
     ("C$ 499", "CAD"), ("NT$ 1,200", "TWD"), ("MX$ 1,999", "MXN"), ("RD$ 500", "DOP"), ("Ksh 5,000", "KES"),
     ("KSh 5,000", "KES"), ("S/ 250", "PEN"), ("₩ 50,000", "KRW"), ("50,000원", "KRW"), ("£500", "GBP"),
     ("A$200", "AUD"), ("R 499", None), ("Zz$ 499", None)],
)
def test_the_whole_currency_token_is_resolved(text, currency):
    o = one(prices=[price(text)])
    assert o["price_currency"] == currency
    if currency is None:
        assert any("unknown currency" in n for n in notes_for(o, "prices"))


def test_rand_needs_south_africa():
    assert one(prices=[price("R 499")], country_raw="South Africa")["price_currency"] == "ZAR"


# --- 5. "$" in countries with another currency --------------------------------------------------


@pytest.mark.parametrize(
    ("country", "currency"),
    [("Argentina", "ARS"), ("Chile", "CLP"), ("Colombia", "COP"), ("Uruguay", "UYU"), ("Dominican Republic", "DOP"),
     ("Cuba", "CUP"), ("Taiwan", "TWD"), ("Canada", "CAD"), ("United States", "USD"), ("Ecuador", "USD"),
     (None, "USD")],
)
def test_dollar_sign_by_country(country, currency):
    assert one(prices=[price("$ 150.000")], country_raw=country)["price_currency"] == currency


def test_dollar_sign_in_a_country_with_another_currency_is_left_open():
    o = one(prices=[price("$ 1,500")], country_raw="Philippines")
    assert (o["price_amount"], o["price_currency"], o["price_usd"]) == (1500.0, None, None)
    assert notes_for(o, "prices") == ["prices: ambiguous '$' in country PH, currency left open in '$ 1,500'"]
    assert one(prices=[price("US$ 1,500")], country_raw="Philippines")["price_currency"] == "USD"


# --- 6. effort ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hours", "per_week"),
    [("half an hour", 0.5, False), ("10 h/semana", 10, True), ("5 h pro Woche", 5, True), ("10 h/Woche", 10, True),
     ("3h/sem", 3, True), ("4 horas por semana", 4, True), ("3 heures par semaine", 3, True),
     ("4 Std./Woche", 4, True), ("3 hours x 10 weeks", 3, True), ("3 hours for 10 weeks", 3, True),
     ("6 weeks of 3 hours", 3, True), ("20 sessions of 2 hours", 40, False), ("3 x 2 hour sessions", 6, False),
     ("20 2-hour sessions", 40, False), ("2 hours x 5 days", 10, False), ("2 hours, twice a week", 4, True),
     ("1 hour, three times a week", 3, True), ("120 Std.", 120, False),
     # unchanged
     ("Module 3 2 hours", 2, False), ("40 hours over 4 weeks", 40, False), ("3 hrs per week for 2 weeks", 3, True)],
)
def test_parse_workload_probe_cases(text, hours, per_week):
    out = first(ex.parse_workload, text)
    assert (out["hours_min"], out["hours_max"], out["per_week"]) == (hours, hours, per_week)


@pytest.mark.parametrize("text", ["P1DT2H", "PT0H", "0 hours", "0.0 hours", "0 hrs/week", "10 hours for 3 months"])
def test_parse_workload_refuses(text):
    out = first(ex.parse_workload, text)
    assert out["hours_min"] is None and out["hours_max"] is None


@pytest.mark.parametrize(
    ("text", "weeks_min", "weeks_max"),
    [("Half a day", 0.07, 0.07), ("2 hours, twice a week", None, None), ("Access for 12 months", None, None),
     ("365 days access", None, None), ("valid for 3 years", None, None), ("3 weeks + 1 week exam", 4.0, 4.0),
     ("6 weeks (+2 week break)", 8.0, 8.0), ("4 weeks and 3 days", 4.43, 4.43), ("P0D", None, None),
     ("6 Wochen", 6.0, 6.0), ("8 semanas", 8.0, 8.0), ("3 mois", 13.0, 13.0),
     # unchanged
     ("8 weeks, access for 12 months", 8.0, 8.0), ("10+ weeks", 10.0, None), ("P1DT2H", 0.15, 0.15)],
)
def test_parse_duration_probe_cases(text, weeks_min, weeks_max):
    out = first(ex.parse_duration, text)
    assert (out["weeks_min"], out["weeks_max"]) == (weeks_min, weeks_max)


def test_effort_products_reach_the_offering():
    assert one(workload_raw="3 hours x 10 weeks")["workload_hours_min"] == 30.0
    assert one(workload_raw="20 sessions of 2 hours")["workload_hours_min"] == 40.0
    weekly = one(workload_raw="10 h/Woche", duration_raw="6 Wochen")
    assert (weekly["workload_hours_min"], weekly["duration_weeks_min"]) == (60.0, 6.0)


@pytest.mark.parametrize(
    ("field", "text", "note"),
    [("duration_raw", "Access for 12 months",
      "duration_weeks: access or validity period, not a course length 'Access for 12 months'"),
     ("workload_raw", "0 hours", "workload_hours: zero, a placeholder '0 hours'"),
     ("workload_raw", "PT0H", "workload_hours: zero, a placeholder 'PT0H'"),
     ("duration_raw", "P0D", "duration_weeks: zero, a placeholder 'P0D'")],
)
def test_effort_refusals_are_noted(field, text, note):
    o = one(**{field: text})
    assert o["workload_hours_min"] is None and o["duration_weeks_min"] is None
    assert note in o["mapping_notes"]


def test_an_iso_length_gives_no_effort():
    o = one(workload_raw="P1DT2H")
    assert o["workload_hours_min"] is None and o["duration_weeks_min"] == 0.15


# --- 7. credits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["3 or 4 credits", "3 to 4 credits", "3-4 credits", "3 bis 4 ECTS"])
def test_parse_credits_reads_or_as_a_range(text):
    out = first(ex.parse_credits, text)
    assert (out["credits"], out["is_range"]) == (None, True)
    assert out["unit_text"] in ("credits", "ects")


def test_credits_or_range_is_noted():
    o = one(credits_raw="3 or 4 credits")
    assert o["credits"] is None
    assert "credits: range is not one figure '3 or 4 credits'" in o["mapping_notes"]


# --- 8. counts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [("2,5 Mio.", 2_500_000), ("1,2 Mio", 1_200_000), ("3 Tsd.", 3_000), ("1.2 Mrd", 1_200_000_000),
     ("10 mil", None), ("10 mil alumnos", 10_000), ("10 mil learners", 10_000_000), ("4,5", None),
     ("2,5 Mia.", None),
     # unchanged
     ("10,438", 10_438), ("1.234.567", 1_234_567), ("43K reviews", 43_000), ("12 (new)", 12)],
)
def test_parse_count_probe_cases(text, count):
    assert first(ex.parse_count, text) == count


def test_an_ambiguous_mil_count_is_noted():
    o = one(enrolment_raw="10 mil")
    assert o["enrolment"] is None
    assert "enrolment: ambiguous 'mil' (thousand or million) '10 mil'" in o["mapping_notes"]


# --- 9. blank list entries ----------------------------------------------------------------------


def test_blank_list_entries_are_dropped():
    o = one(subjects=["  ", "Business", ""], skills=["", "Python", "\t", "\u200b"])
    assert o["subjects_raw"] == ["Business"] and o["skills_raw"] == ["Python"]
    assert "subjects_raw: entries without text removed" in o["mapping_notes"]
    assert "skills_raw: entries without text removed" in o["mapping_notes"]
    assert apply(ex.sanitize_text, [" ", "", "x", " a "]) == [None, None, "x", " a "]
