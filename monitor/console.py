"""The CLI's console printer: a bus subscriber that prints a call as it happens."""

from __future__ import annotations

import sys
from typing import TextIO

from monitor import events as ev
from monitor.bus import EventBus, Subscription


def clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


class ConsolePrinter:
    """Prints final utterances with their scores, risk changes, alerts and cards.

    It subscribes with ``overflow="wait"``: a replay waits for the terminal rather than
    skip lines, which is what a person reading a transcript wants.
    """

    def __init__(self, bus: EventBus, out: TextIO | None = None, show_call: bool = False) -> None:
        self.out = out or sys.stdout
        self.show_call = show_call
        self.sub: Subscription = bus.subscribe("console", maxsize=1000, overflow="wait")
        self._names: dict[str, str] = {}
        self._pending: dict[tuple[str, int], ev.FinalUtterance] = {}
        self._level: dict[str, str] = {}

    def _prefix(self, call_id: str) -> str:
        return f"[{self._names.get(call_id, call_id)}] " if self.show_call else ""

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.CallStarted):
            self._started(event)
        elif isinstance(event, ev.FinalUtterance):
            self._pending[(event.call_id, event.seq)] = event
        elif isinstance(event, ev.UtteranceScore):
            utt = self._pending.pop((event.call_id, event.seq), None)
            if utt is None:
                return
            intents = ", ".join(f"{k} {p:.2f}" for k, p in event.intents)
            loud = f" {utt.features.loudness_dbfs:.0f} dBFS" if utt.features else ""
            self._print(
                f"{self._prefix(event.call_id)}{clock(utt.start)} {utt.speaker:>8}: {utt.text}\n"
                f"{'':>19}sentiment {event.polarity:+.2f} ({event.sentiment}){loud}"
                + (f" | intents: {intents}" if intents else "")
            )
        elif isinstance(event, ev.CallRisk):
            if self._level.get(event.call_id) != event.level:
                self._level[event.call_id] = event.level
                why = f" — {'; '.join(event.reasons[:3])}" if event.reasons else ""
                self._print(
                    f"{self._prefix(event.call_id)}{clock(event.at)}     risk {event.risk:.0f} "
                    f"→ {event.level}{why}"
                )
        elif isinstance(event, ev.Alert):
            self._print(
                f"{self._prefix(event.call_id)}{clock(event.at)}  !! ALERT [{event.severity}] "
                f"{event.kind}: {event.message}"
            )
        elif isinstance(event, ev.PromptCard):
            self._print(
                f"{self._prefix(event.call_id)}{clock(event.at)}  >> CARD ({event.language}) "
                f"{event.title}: {event.body}"
            )
        elif isinstance(event, ev.TalkOver):
            self._print(
                f"{self._prefix(event.call_id)}{clock(event.start)}     talk-over by "
                f"{event.speaker} ({event.end - event.start:.1f}s)"
            )
        elif isinstance(event, ev.CallEnded):
            extra = f": {event.error}" if event.error else ""
            self._print(
                f"{self._prefix(event.call_id)}call {event.call_id} ended at {clock(event.at)} "
                f"({event.reason}{extra})"
            )
        elif isinstance(event, ev.AgentStrain):
            self._print(f"agent {event.agent_id} strain: {event.suggestion}")

    def _started(self, event: ev.CallStarted) -> None:
        """A call in "auto" is announced twice (issue #12): "started" while its language is
        being detected, then the language found with the detector's confidence."""
        known = event.call_id in self._names
        self._names[event.call_id] = event.name
        prefix = self._prefix(event.call_id)
        detected = ""
        if event.language_source == "detected":
            p = event.language_probability
            detected = f"{event.language}" + (f" ({p:.0%})" if p is not None else "")
            if known:
                self._print(f"{prefix}call {event.call_id} language detected: {detected}")
                return
        language = {"detecting": "detecting language", "detected": f"detected {detected}"}.get(
            event.language_source, event.language
        )
        self._print(
            f"{prefix}call {event.call_id} started: {event.source} "
            f"(agent {event.agent_id}, {language})"
        )

    async def run(self) -> None:
        async for event in self.sub:
            self.handle(event)
