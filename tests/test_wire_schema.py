"""The wire schema: every event that enters from outside is checked field by field.

The schema is derived from the frozen dataclasses of monitor/events.py, so these tests also
check that it covers every field of every wire event (a new field cannot slip through).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

from monitor import events as ev
from monitor import wire, wire_schema
from monitor.wire import WireError, from_dict, load_json, to_dict
from tests.test_bus_wire import SAMPLES


def forged(event: ev.Event, **fields: Any) -> dict[str, Any]:
    return {**to_dict(event), **fields}


RISK = ev.CallRisk("c1", 2.4, 61.0, "at_risk", -0.7, ("threatened to cancel",))
FINAL = next(e for e in SAMPLES if isinstance(e, ev.FinalUtterance))
SCORE = next(e for e in SAMPLES if isinstance(e, ev.UtteranceScore))
STARTED = next(e for e in SAMPLES if isinstance(e, ev.CallStarted))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (forged(RISK, risk=1e308), r"risk: 'risk' must be a number from 0 to 100, got 1e\+308"),
        (forged(RISK, risk=-1), r"'risk' must be a number from 0 to 100"),
        (forged(RISK, level="bogus"), r"'level' must be one of calm, watch, at_risk, escalated"),
        (forged(RISK, sentiment="NaN"), r"'sentiment' must be a number, got a string"),
        (forged(RISK, sentiment=True), r"'sentiment' must be a number, got a boolean"),
        (forged(RISK, reasons="x"), r"'reasons' must be a list"),
        (forged(RISK, reasons=["x"] * 100), r"'reasons' has 100 items; at most"),
        (forged(RISK, call_id=""), r"'call_id' must not be empty"),
        (forged(RISK, call_id="c" * 500), r"'call_id' is 500 characters long; at most"),
        (forged(RISK, call_id=7), r"'call_id' must be a string, got an integer"),
        (forged(ev.CallEnded("c1", 3.0), at=-5), r"call_ended: 'at' must be a number from 0"),
        (forged(ev.CallEnded("c1", 3.0), reason="exploded"), r"'reason' must be one of"),
        (forged(FINAL, end=0.5), r"final: 'end' \(0.5\) is before 'start' \(1.0\)"),
        (forged(FINAL, seq=1.5), r"'seq' must be a whole number"),
        (forged(FINAL, seq=-1), r"'seq' must be a number from 0"),
        (forged(FINAL, speaker="robot"), r"'speaker' must be one of customer, agent"),
        (forged(FINAL, words=[{"text": "x", "start": 1, "end": "2"}]), r"'words\[0\].end'"),
        (forged(FINAL, words=[{"text": "x", "start": 1}]), r"'words\[0\]' misses 'end'"),
        (forged(FINAL, features={"loudness_dbfs": 1}), r"'features' misses 'duration', 'pitch_hz'"),
        (forged(FINAL, words=[[1, 2]]), r"'words\[0\]' must be an object"),
        (forged(SCORE, probabilities=[0.5, 0.5]), r"'probabilities' must have 3 items"),
        (forged(SCORE, probabilities=[0.9, 0.9, 0.9]), r"'probabilities' must add up to 1"),
        (
            forged(SCORE, probabilities=[2, -0.5, -0.5]),
            r"'probabilities\[0\]' must be a number from 0 to 1, got 2",
        ),
        (forged(SCORE, intents=[["world_peace", 0.5]]), r"'intents\[0\]\[0\]' must be one of"),
        (forged(SCORE, sentiment="furious"), r"'sentiment' must be one of negative"),
        (forged(STARTED, channels=5), r"'channels' must be a number from 1 to 2"),
        (forged(STARTED, language="tlh"), r"'language' must be one of en"),
        ({"v": 1, "type": "call_ended", "call_id": "c"}, r"call_ended: missing field 'at'"),
    ],
)
def test_forged_events_are_refused_naming_the_field(data: dict[str, Any], match: str) -> None:
    with pytest.raises(WireError, match=match):
        from_dict(data)


def test_non_finite_numbers_are_refused_even_when_json_spells_them() -> None:
    for text in ('{"risk": NaN}', '{"risk": Infinity}', '{"risk": -Infinity}'):
        with pytest.raises(WireError, match="not a number JSON allows"):
            load_json(text)
    huge = load_json(json.dumps(forged(RISK)).replace("61.0", "1e999"))  # parses to inf
    assert math.isinf(huge["risk"])
    with pytest.raises(WireError, match="'risk' must be a finite number"):
        from_dict(huge)


def test_nesting_deeper_than_the_limit_is_refused_before_parsing() -> None:
    limit = wire_schema.MAX_JSON_DEPTH
    assert load_json("[" * limit + "]" * limit) is not None
    for text in ("[" * 8000 + "]" * 8000, '{"a":' * 5000 + "1" + "}" * 5000):
        with pytest.raises(WireError, match=f"nested deeper than {limit} levels"):
            load_json(text)
    # brackets inside strings are text, not nesting
    assert load_json(json.dumps({"text": "[" * 1000, "q": '"\\"[{'}))["text"] == "[" * 1000


def test_every_field_of_every_wire_event_has_a_checked_bound() -> None:
    """The schema is built from the dataclasses; every field has a rule, numbers a range."""
    for cls, name in ev.EVENT_TYPES.items():
        schema = wire_schema.SCHEMAS[name]
        assert set(schema.fields) == {f.name for f in dataclasses.fields(cls)}, name
    described = wire_schema.describe()
    assert "risk.risk: number 0..100" in described
    assert "call_ended.at: number 0..86400" in described


def test_the_samples_and_an_event_at_every_bound_still_round_trip() -> None:
    for event in SAMPLES:
        assert from_dict(json.loads(wire.to_json(event))) == event
    edge = ev.CallRisk("c" * wire_schema.MAX_ID_CHARS, 0, 100, "escalated", -1, ())
    assert from_dict(to_dict(edge)) == edge
    ints = from_dict(forged(RISK, at=3, risk=50))  # JSON integers for float fields
    assert isinstance(ints, ev.CallRisk) and ints.at == 3.0 and isinstance(ints.risk, float)
