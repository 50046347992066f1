"""The rates data: the shipped file loads, lookups by date, and a broken file is named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.money import rates
from engine.money.rates import NoStatutoryRate, RatePeriod, RatesError, load_rates, parse_rates


def test_the_shipped_file_loads_with_germany_from_2002_in_date_order() -> None:
    found = load_rates()

    de = found["DE"]
    assert de.base_rates[0] == (date(2002, 1, 1), Decimal("2.57"))
    assert [d for d, _ in de.base_rates] == sorted(d for d, _ in de.base_rates)
    assert "Bundesbank" in de.source
    assert de.statutory["consumer"].points == Decimal("5")
    assert de.statutory["business"].points == Decimal("9")
    assert de.fees["flat_fee"].debtor_types == ("business",)
    assert set(found) == {"DE", "UK", "US"}


@pytest.mark.parametrize(
    ("day", "debtor", "rate"),
    [
        (date(2002, 1, 1), "consumer", "7.57"),
        (date(2016, 7, 1), "consumer", "4.12"),  # a negative base rate: -0.88 + 5
        (date(2022, 12, 31), "business", "8.12"),
        (date(2023, 1, 1), "business", "10.62"),
        (date(2024, 6, 30), "consumer", "8.62"),
        (date(2024, 7, 1), "consumer", "8.37"),
        (date(2025, 7, 1), "business", "10.27"),
    ],
)
def test_the_german_statutory_rate_on_a_day(day: date, debtor: str, rate: str) -> None:
    assert rates.rate_on("DE", debtor, day) == Decimal(rate)


def test_the_uk_rate_is_for_businesses_only_and_gb_is_the_uk() -> None:
    assert rates.rate_on("GB", "business", date(2025, 8, 1)) == Decimal("12.25")  # 4.25 + 8
    with pytest.raises(NoStatutoryRate, match="consumer"):
        rates.rate_on("UK", "consumer", date(2025, 8, 1))


def test_the_us_and_unknown_jurisdictions_have_no_statutory_rate() -> None:
    with pytest.raises(NoStatutoryRate):
        rates.rate_on("US", "consumer", date(2025, 1, 1))
    with pytest.raises(NoStatutoryRate):
        rates.rate_on("FR", "business", date(2025, 1, 1))


def test_before_the_first_entry_there_is_no_rate() -> None:
    with pytest.raises(NoStatutoryRate, match="2001-12-31"):
        rates.rate_on("DE", "consumer", date(2001, 12, 31))


def test_a_span_across_two_changes_is_cut_at_each() -> None:
    periods = rates.rate_periods("DE", "consumer", date(2024, 12, 15), date(2025, 7, 10))

    assert periods == [
        RatePeriod(date(2024, 12, 15), date(2025, 1, 1), Decimal("8.37")),
        RatePeriod(date(2025, 1, 1), date(2025, 7, 1), Decimal("7.27")),
        RatePeriod(date(2025, 7, 1), date(2025, 7, 10), Decimal("6.27")),
    ]
    assert sum(p.days for p in periods) == (date(2025, 7, 10) - date(2024, 12, 15)).days
    assert rates.rate_periods("DE", "consumer", date(2025, 1, 1), date(2025, 1, 1)) == []


def minimal(**over: object) -> dict[str, object]:
    table: dict[str, object] = {
        "name": "X",
        "currency": "EUR",
        "base_rate_name": "base",
        "source": "a bank",
        "base_rates": [{"from": date(2020, 1, 1), "rate": "1.00"}],
    }
    table.update(over)
    return {"XX": table}


@pytest.mark.parametrize(
    ("over", "words"),
    [
        (
            {"base_rates": [{"from": date(2020, 1, 1), "rate": 1.0}]},
            "base_rates[0], field 'rate': give the number as a string",
        ),
        (
            {
                "base_rates": [
                    {"from": date(2020, 7, 1), "rate": "1"},
                    {"from": date(2020, 1, 1), "rate": "2"},
                ]
            },
            "base_rates[1], field 'from': 2020-01-01 is not after 2020-07-01 (keep date order)",
        ),
        ({"base_rates": [{"from": "2020-01-01", "rate": "1"}]}, "field 'from': give a date"),
        ({"base_rates": [{"from": date(2020, 1, 1), "rate": "x"}]}, "'x' is not a number"),
        ({"base_rates": [{"from": date(2020, 1, 1), "rate": "NaN"}]}, "not a finite number"),
        ({"rate": "1"}, "unknown field 'rate'"),
        ({"day_count": "30/360"}, "field 'day_count': use one of ACT/365"),
        ({"statutory": {"robot": {"points": "5", "law": "x"}}}, "use a debtor type"),
        ({"source": ""}, "field 'source': give a text"),
        (
            {
                "fees": [
                    {
                        "name": "f",
                        "law": "x",
                        "debtor_types": ["business"],
                        "bands": [{"below": "10", "amount": "1"}],
                    }
                ]
            },
            "the last band must have no 'below'",
        ),
        (
            {
                "fees": [
                    {
                        "name": "f",
                        "law": "x",
                        "debtor_types": ["robots"],
                        "bands": [{"amount": "1"}],
                    }
                ]
            },
            "fees[0], field 'debtor_types'",
        ),
    ],
)
def test_a_broken_file_names_the_entry_and_field(over: dict[str, object], words: str) -> None:
    with pytest.raises(RatesError) as caught:
        parse_rates(minimal(**over), "rates.toml")

    assert words in str(caught.value)
    assert str(caught.value).startswith("rates.toml: [XX]")


def test_a_file_that_is_not_toml_says_so(tmp_path: Path) -> None:
    path = tmp_path / "rates.toml"
    path.write_text("[DE\nname = ", encoding="utf-8")

    with pytest.raises(RatesError, match=r"rates\.toml: not valid TOML"):
        load_rates(path)


def test_the_uk_flat_fee_goes_by_the_claim() -> None:
    table = rates.jurisdiction("UK").fees["flat_fee"]  # type: ignore[union-attr]

    assert table.amount(Decimal("999.99")) == Decimal("40.00")
    assert table.amount(Decimal("1000.00")) == Decimal("70.00")
    assert table.amount(Decimal("10000.00")) == Decimal("100.00")
