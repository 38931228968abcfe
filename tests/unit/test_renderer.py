"""The API's orjson renderer writes what DRF's JSONRenderer writes, byte for byte (no engine, no database;
tests/api/test_renderer_in_use.py checks the API answers with it)."""

import datetime
import decimal
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from containersvc.api.renderers import OrjsonRenderer

UTC = datetime.UTC
PLUS_TWO = datetime.timezone(datetime.timedelta(hours=2))


@pytest.mark.parametrize(
    "data",
    [
        {"utc": datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "whole": datetime.datetime(2026, 1, 2)},
        {"offset": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=PLUS_TWO), "naive": datetime.datetime(2026, 1, 2, 3)},
        {"date": datetime.date(2026, 1, 2), "time": datetime.time(1, 2, 3, 456789), "for": datetime.timedelta(1.5)},
        {"lazy": gettext_lazy("This field is required."), "detail": [ErrorDetail("Bad.", code="invalid")]},
        {"decimal": decimal.Decimal("1.10"), "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678")},
        {2: "int key", None: "none key", True: "bool key", 1.5: "float key"},
        {"big": 2**70, "set": {3}, "tuple": (1, "a"), "nested": [{"a": [None, True, False, 0.1, -2]}]},
        {"separators": "a\u2028b\u2029c", "unicode": "ünïcødé ✓ 😀", "quote": 'say "hi"\n\t\\'},
        [],
        {},
        "text",
        3,
    ],
)
def test_renders_as_drf_does(data):
    assert OrjsonRenderer().render(data) == JSONRenderer().render(data)


def test_indented_output_is_drf_own():
    data = {"a": [1, {"b": None}]}
    media_type = "application/json; indent=4"

    assert OrjsonRenderer().render(data, media_type) == JSONRenderer().render(data, media_type)


def test_nothing_renders_as_nothing():
    assert OrjsonRenderer().render(None) == b""


def test_what_drf_cannot_render_fails_as_in_drf():
    for data in ({"aware time": datetime.time(1, tzinfo=UTC)}, {"object": object()}):
        with pytest.raises((TypeError, ValueError)) as drf:
            JSONRenderer().render(data)
        with pytest.raises(type(drf.value)):
            OrjsonRenderer().render(data)
