"""The seams of the pipeline as protocols: what :class:`monitor.pipeline.Monitor` needs from
its scorer and its bus, and nothing more.

The audio source (``monitor.sources.base.AudioSource``) and the recognizer
(``monitor.asr.base.Recognizer``) have theirs beside their implementations. These two live
here because the pipeline should not import the concrete classes: a scorer on another
runtime (a GPU server, a different model) or a bus that crosses processes can be swapped in
by matching these signatures. ``monitor.scoring.service.ScoringService`` and
``monitor.bus.EventBus`` are the implementations shipped (tests/test_seams.py checks that
they match).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from monitor.events import Event, FinalUtterance, PartialUtterance, UtteranceScore

if TYPE_CHECKING:
    from monitor.bus import Overflow, Subscription

# what a sink returns, if anything, is awaited before the broadcast (the store's commit)
Sink = Callable[[Event], Awaitable[None] | None]


@runtime_checkable
class Scorer(Protocol):
    """Scores final utterances of every live call (sentiment, escalation intents).

    ``score`` may be called concurrently from many calls; ``aclose`` stops intake and scores
    what was already accepted.
    """

    async def score(self, utt: FinalUtterance, language: str = "en") -> UtteranceScore: ...

    async def score_partial(
        self, utt: PartialUtterance, language: str = "en", *, wait: bool = False
    ) -> UtteranceScore | None:
        """A customer's unfinished turn, for early alerts: None when the scorer has no time
        to spare for it now (finals come first), unless ``wait`` (offline runs that score
        every partial)."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Bus(Protocol):
    """Where a call's events go: sinks first (persist before broadcast), then subscribers."""

    def add_sink(self, sink: Sink) -> None: ...

    def subscribe(
        self, name: str, maxsize: int = ..., overflow: Overflow = ...
    ) -> Subscription: ...

    async def publish(self, event: Event) -> None: ...
