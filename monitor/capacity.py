"""Overload is explicit, never silent: each call's lag, the "delayed" mark, the call limit.

When more calls arrive than the machine can carry, callmon degrades in this order:

1. **Partial transcripts are shed.** The decode scheduler (monitor/asr/scheduler.py) starts a
   partial only on a spare decoder; under load none is spare, so finals keep their latency
   longer. Counted as ``callmon_partials_shed_total`` on /metrics.
2. **Late calls are marked delayed.** A call's lag is the audio waiting for recognition plus
   the age of its oldest final still waiting for its text. Past ``delayed_after_s`` the call is
   published as delayed (a :class:`CallLag` event: the board marks it, /metrics has its lag),
   again every ``repeat_s`` with the current lag while it lasts, and as ``ok`` once it is back
   under ``recovered_below_s``. Nothing is dropped: a delayed call's text still comes, late.
3. **New calls are refused at capacity.** With ``max_calls`` set (``[capacity] max_calls``),
   ``Monitor.run_call`` refuses a call beyond it with :class:`CapacityError`, whose message says
   why; the ingests close the stream with 1013 (try again later) and that message.

:class:`LagTracker` is the synchronous core of step 2 (the clock is passed in);
the pipeline drives it once a second per call.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.events import CallLag

DEGRADATION_ORDER = ("partials shed", "calls marked delayed", "new calls refused")


@dataclass(frozen=True, slots=True)
class CapacityConfig:
    max_calls: int | None = None  # None: no limit of our own (the ingests keep theirs)
    delayed_after_s: float = 2.0
    recovered_below_s: float = 1.0
    repeat_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_calls is not None and self.max_calls < 1:
            raise ValueError(f"[capacity] max_calls must be at least 1, got {self.max_calls}")
        if not 0 < self.recovered_below_s <= self.delayed_after_s:
            raise ValueError(
                "[capacity] needs 0 < recovered_below_s <= delayed_after_s, got "
                f"{self.recovered_below_s} and {self.delayed_after_s}"
            )
        if self.repeat_s <= 0:
            raise ValueError(f"[capacity] repeat_s must be positive, got {self.repeat_s}")


class CapacityError(RuntimeError):
    """A call refused because the monitor already carries as many as it is configured for."""


def refusal(active: int, config: CapacityConfig) -> str | None:
    """Why a new call may not start now (None: it may)."""
    if config.max_calls is not None and active >= config.max_calls:
        return (
            f"callmon is at capacity: {active} live calls "
            f"([capacity] max_calls = {config.max_calls}); try again later"
        )
    return None


class LagTracker:
    """One call's lag state: decides when a :class:`CallLag` event is due."""

    def __init__(self, call_id: str, config: CapacityConfig) -> None:
        self.call_id = call_id
        self.config = config
        self.delayed = False
        self.lag_s = 0.0
        self.max_lag_s = 0.0
        self.times_delayed = 0
        self._last_sent = 0.0

    def observe(self, lag_s: float, at: float, now: float) -> CallLag | None:
        """The current lag (``at``: call audio time, ``now``: a monotonic clock)."""
        self.lag_s = lag_s = max(0.0, lag_s)
        self.max_lag_s = max(self.max_lag_s, lag_s)
        c = self.config
        if not self.delayed and lag_s > c.delayed_after_s:
            self.delayed = True
            self.times_delayed += 1
        elif self.delayed and lag_s < c.recovered_below_s:
            self.delayed = False
        else:
            if not self.delayed or now - self._last_sent < c.repeat_s:
                return None
        self._last_sent = now
        at = round(max(at, 0.0), 3)
        if self.delayed:
            return CallLag(self.call_id, at, round(lag_s, 3), "delayed")
        return CallLag(self.call_id, at, round(lag_s, 3), "ok")
