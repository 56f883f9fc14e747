"""The server's synchronous cores: board state, client outbox, protocol parsing, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor import events as ev
from monitor import wire
from monitor.server.config import ConfigError, Role, ServerConfig
from monitor.server.messages import AckAlert, MarkCard, Ping, ProtocolError, parse_command
from monitor.server.outbox import RESYNC, ClientOutbox
from monitor.server.state import BoardState, Viewer, conflation_key

SUP = Viewer(Role("supervisor"))


def _events(call_id: str, agent: str, queue: str = "default") -> list[ev.Event]:
    return [
        ev.CallStarted(call_id, call_id, agent, queue=queue),
        ev.PartialUtterance(call_id, "customer", 0, "I", 0.0, 0.5),
        ev.FinalUtterance(call_id, "customer", 0, "I am upset", 0.0, 1.0),
        ev.UtteranceScore(call_id, 0, "customer", 1.0, "negative", (0.8, 0.1, 0.1)),
        ev.CallRisk(call_id, 1.0, 60.0, "at_risk", -0.7),
        ev.Alert(call_id, f"{call_id}-a", 1.0, "warning", "anger", "angry"),
        ev.PromptCard(call_id, f"{call_id}-k", 1.0, "en", "ack", "Acknowledge", "..."),
    ]


def test_snapshot_replays_to_the_same_view():
    state = BoardState()
    for e in _events("c1", "a1"):
        state.apply(e)
    snap = state.snapshot(SUP)
    again = BoardState()
    for e in snap:
        again.apply(e)
    assert again.snapshot(SUP) == snap
    assert not any(isinstance(e, ev.PartialUtterance) for e in snap)  # superseded by the final
    assert all(wire.from_dict(wire.to_dict(e)) == e for e in snap)


def test_agents_see_only_their_calls_and_never_scores_or_alerts():
    state = BoardState()
    for e in _events("c1", "a1") + _events("c2", "a2"):
        state.apply(e)
    mine = state.snapshot(Viewer(Role("agent", "a1")))
    assert {ev.call_id_of(e) for e in mine} == {"c1"}
    assert not any(isinstance(e, ev.UtteranceScore | ev.CallRisk | ev.Alert) for e in mine)
    assert state.snapshot(Viewer(Role("ingest"))) == []
    # an event for a call nobody announced is not an agent's
    assert not state.visible(
        ev.FinalUtterance("zz", "agent", 0, "x", 0, 1), Viewer(Role("agent", "a1"))
    )


def test_queue_filter_and_acks_in_snapshot():
    state = BoardState()
    for e in _events("c1", "a1", "billing") + _events("c2", "a2", "tech"):
        state.apply(e)
    state.apply(ev.AlertAcknowledged("c2-a", "c2", "sv"))
    snap = state.snapshot(Viewer(Role("supervisor"), queue="tech"))
    assert {ev.call_id_of(e) for e in snap} == {"c2"}
    assert snap[-1] == ev.AlertAcknowledged("c2-a", "c2", "sv")


def test_ended_calls_are_evicted_with_their_alerts_and_cards():
    state = BoardState(max_ended_calls=1)
    for cid in ("c1", "c2", "c3"):
        for e in _events(cid, "a1"):
            state.apply(e)
        state.apply(ev.CallEnded(cid, 5.0))
    assert state.call_ids == ("c3",)
    assert state.alert("c1-a") is None and state.card("c1-k") is None
    assert state.alert("c3-a") is not None


def test_conflation_keys():
    assert conflation_key(ev.CallRisk("c", 1, 2, "calm", 0)) == ("risk", "c")
    assert conflation_key(ev.PartialUtterance("c", "agent", 1, "x", 0, 1)) == (
        "partial",
        "c",
        "agent",
    )
    assert conflation_key(ev.FinalUtterance("c", "agent", 1, "x", 0, 1)) is None


def test_outbox_conflates_and_resyncs_on_overflow():
    box = ClientOutbox(maxsize=3)
    box.put("r1", ("risk", "c"))
    box.put("f1")
    box.put("r2", ("risk", "c"))  # replaces r1 in place
    assert [box.pop(), box.pop(), box.pop()] == ["r2", "f1", None]
    assert box.conflated == 1
    for i in range(5):
        box.put(f"m{i}")
    assert box.pop() == RESYNC and box.resyncs == 1
    assert box.pop() is None and len(box) == 0
    assert box.high_water <= 3
    box.request_resync(initial=True)
    assert box.resyncs == 1 and box.pop() == RESYNC


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("nope", "bad_json"),
        ("[]", "bad_message"),
        ('{"type": "ping"}', "unsupported_version"),
        ('{"v": 1, "type": "reboot"}', "unknown_type"),
        ('{"v": 1, "type": "ack_alert"}', "bad_message"),
        ('{"v": 1, "type": "card_feedback", "card_id": "k", "action": "liked"}', "bad_message"),
    ],
)
def test_bad_commands(raw: str, code: str):
    with pytest.raises(ProtocolError) as info:
        parse_command(raw)
    assert info.value.code == code


def test_good_commands():
    assert parse_command('{"v":1,"type":"ping","id":3}') == Ping(3)
    ack = json.dumps({"v": 1, "type": "ack_alert", "alert_id": "a", "assign_to": "m"})
    assert parse_command(ack) == AckAlert("a", "m")
    fb = '{"v":1,"type":"card_feedback","card_id":"k","action":"used"}'
    assert parse_command(fb) == MarkCard("k", "used")


def test_config_roles_tokens_and_toml(tmp_path: Path):
    path = tmp_path / "callmon.toml"
    path.write_text(
        '[asr]\nengine = "vosk"\n'  # the process config's other sections are not ours
        '[server]\nport = 9000\nallowed_origins = ["https://board.example"]\n'
        '[server.tokens]\n"s3cret-supervisor" = "supervisor"\n"s3cret-agent7" = "agent:7"\n'
    )
    cfg = ServerConfig.load(path)
    assert cfg.port == 9000 and cfg.allowed_origins == ("https://board.example",)
    assert cfg.role_of("s3cret-agent7") == Role("agent", "7")
    assert cfg.role_of("nope-nope-nope") is None and cfg.role_of("") is None
    more = cfg.with_generated_tokens(["7", "8"])
    assert sorted(more.tokens.values()) == ["agent:7", "agent:8", "ingest", "supervisor"]
    path.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        ServerConfig.load(path)
    path.write_text('[server.tokens]\n"short" = "supervisor"\n')
    with pytest.raises(ConfigError, match="shorter"):
        ServerConfig.load(path)
    path.write_text('[server.tokens]\n"long-enough-token" = "admin"\n')
    with pytest.raises(ConfigError, match="unknown role"):
        ServerConfig.load(path)
    with pytest.raises(ConfigError, match="does not exist"):
        ServerConfig.load(tmp_path / "missing.toml")
