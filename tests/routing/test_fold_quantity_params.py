"""Quantities given as StrategyParameters (MinClip, MaxClip) are FIX Qty values: plain
decimals. Python's Decimal also takes exponents, NaN, Infinity, blanks and underscores; those
are refused with a message naming the parameter and the value."""
from decimal import Decimal

import pytest

from fixgw.routing.sor import parse_quantity_parameter, venue_filters_from_strategy_parameters

D = Decimal


@pytest.mark.parametrize("text, expected", [("0.01", D("0.01")), ("5", D(5)), ("5.", D(5)),
                                            (".5", D("0.5")), ("0", D(0)),
                                            ("100.000", D(100))])
def test_plain_decimals_are_quantities(text, expected):
    got = parse_quantity_parameter("MinClip", text)
    assert got == expected and isinstance(got, Decimal)
    assert "E" not in str(got).upper()


@pytest.mark.parametrize("text", ["1E+2", "1e2", "1E-3", "NaN", "nan", "sNaN", "Infinity",
                                  "-Infinity", "inf", " 1", "1 ", "1_000", "0x10", "", "1.2.3",
                                  "+1"])
def test_exponent_nan_infinity_and_other_decimal_forms_are_refused(text):
    with pytest.raises(ValueError) as e:
        parse_quantity_parameter("MaxClip", text)
    msg = str(e.value)
    assert msg.startswith("StrategyParameter MaxClip: not a plain decimal") and repr(text) in msg


def test_negative_and_overlong_values_are_refused_naming_the_value():
    with pytest.raises(ValueError, match=r"MinClip: must be >= 0: '-1'"):
        parse_quantity_parameter("MinClip", "-1")
    with pytest.raises(ValueError, match=r"MinClip: too long .*'1{40}\.\.\.'"):
        parse_quantity_parameter("MinClip", "1" * 41)


def test_the_sor_venue_filters_refuse_an_exponent_min_clip():
    with pytest.raises(ValueError, match=r"StrategyParameter MinClip: .*'1E\+2'"):
        venue_filters_from_strategy_parameters({"minclip": "1E+2"})
    assert venue_filters_from_strategy_parameters({"MinClip": "0.5"})[2] == D("0.5")
