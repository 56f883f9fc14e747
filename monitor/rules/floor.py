"""Who had the floor when: one call's speech, talk-overs, silences and holds.

The single owner of this state. The escalation scorer feeds it (every final utterance and
talk-over goes through ``EscalationScorer``) and reads its talk ratio, interruptions and hold
lengths as evidence; the rules read the silences and talk-over counts that their triggers
need. Before, both kept their own copies, and a hold or a talk-over could be counted one way
for the risk and another way for the alerts.

Synchronous, free of I/O, bounded: talk spans older than ``talk_window`` and talk-overs
older than ``talk_over_horizon`` seconds are dropped as new ones arrive.
"""

from __future__ import annotations

from collections import deque

from monitor.events import Speaker, TalkOver

# Talk-overs are kept this long at least: the rules' talk_over windows are a minute or two, and
# a longer window than this would count the same as this one.
TALK_OVER_HORIZON = 600.0


class Floor:
    """Speech spans, talk-overs and the silence since anyone last spoke, in audio seconds."""

    def __init__(self, talk_window: float, talk_over_horizon: float = TALK_OVER_HORIZON) -> None:
        self.talk_window = talk_window
        self.talk_over_horizon = talk_over_horizon
        self.last_speech_end: float | None = None
        self.holding = False  # a hold was reported in the silence running now
        self._talk: deque[tuple[float, float, bool]] = deque()  # (start, end, is_customer)
        self._talk_overs: dict[Speaker, deque[float]] = {"customer": deque(), "agent": deque()}
        self._silence_marks: set[str] = set()

    # ---- inputs ---------------------------------------------------------------------------

    def speech(self, speaker: Speaker, start: float, end: float) -> float | None:
        """A final utterance; returns how long the hold it ends lasted, if one was reported.

        Speech ends the silence: its marks and the hold are cleared.
        """
        self._talk.append((start, end, speaker == "customer"))
        while self._talk and self._talk[0][1] < end - self.talk_window:
            self._talk.popleft()
        held = None
        if self.holding and self.last_speech_end is not None:
            held = start - self.last_speech_end
        self.holding = False
        self._spoke(end)
        return held

    def talk_over(self, event: TalkOver) -> None:
        """Both were speaking: not a silence, even before the finals of those turns arrive.

        A hold that was reported stays reported: its length is measured to the next final.
        """
        times = self._talk_overs[event.speaker]
        times.append(event.start)
        while times and times[0] < event.start - self.talk_over_horizon:
            times.popleft()
        self._spoke(event.end)

    def hold(self) -> None:
        """The silence running now was reported as a hold (it is reported once)."""
        self.holding = True

    def _spoke(self, end: float) -> None:
        self.last_speech_end = max(self.last_speech_end or 0.0, end)
        self._silence_marks.clear()

    # ---- questions ------------------------------------------------------------------------

    def silence(self, at: float) -> float | None:
        """Seconds since anyone last spoke, at audio time ``at``; None before anyone spoke."""
        return None if self.last_speech_end is None else at - self.last_speech_end

    def first_in_silence(self, mark: str) -> bool:
        """True once per silence for each ``mark`` (a rule name): a silence fires a rule once."""
        if mark in self._silence_marks:
            return False
        self._silence_marks.add(mark)
        return True

    def talk_overs(self, speaker: Speaker, since: float) -> int:
        """How many times ``speaker`` started talking over the other at or after ``since``."""
        return sum(1 for t in self._talk_overs[speaker] if t >= since)

    def talk_time(self) -> tuple[float, float]:
        """(customer seconds, all seconds) of speech in the last ``talk_window``."""
        customer = sum(e - s for s, e, c in self._talk if c)
        total = sum(e - s for s, e, _ in self._talk)
        return customer, total
