"""Operator metrics: ``GET /metrics?token=SUPERVISOR_TOKEN`` in the Prometheus text format.

Built with ``prometheus-client`` on a registry of its own (one per runtime, never the global
one). What a contact centre's operator needs to see that the machine keeps up:

- ``callmon_calls_active`` (gauge): calls in flight;
- ``callmon_calls_delayed`` (gauge): calls whose analysis is behind by more than the limit;
- ``callmon_call_lag_seconds{call_id}`` (gauge): each call's lag (audio waiting for recognition
  plus its oldest final waiting for text);
- ``callmon_queue_depth{stage}`` (gauge): items waiting before ``audio`` / ``text`` (per-call
  queues, summed), ``decode`` (the shared decode queue), ``scoring``;
- ``callmon_decodes_running`` (gauge): decodes in progress;
- ``callmon_decode_seconds{kind}``, ``callmon_decode_wait_seconds{kind}`` (histograms): one
  decode (``final`` / ``partial``), and its wait in the queue;
- ``callmon_scoring_seconds`` (histogram): a final's publication to its score's;
- ``callmon_decodes_total{kind}`` (counter): decodes done;
- ``callmon_partials_shed_total`` (counter): partials skipped, no spare decoder (overload 1);
- ``callmon_early_scores_total{outcome}`` (counter): customers' partial transcripts scored for
  early alerts (``scored``), or skipped because the scorer was busy with finals (``shed``);
- ``callmon_delay_marks_total`` (counter): times a call was marked delayed (overload 2);
- ``callmon_websocket_clients`` (gauge): board and agent connections;
- ``callmon_bus_events_total`` (counter): events published.

Scrape it with the token as a query parameter (Prometheus ``params: {token: [...]}``); without
a supervisor token it answers 401 and shows nothing. Bind the server to localhost (the
default) unless the token is kept secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import events as ev

if TYPE_CHECKING:
    from monitor.pipeline import Monitor
    from monitor.runtime import Runtime
    from monitor.server.http import HttpResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DECODE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
SCORING_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
MAX_OPEN_FINALS = 10_000  # finals waiting for their score, remembered for the histogram


class OperatorMetrics:
    """The metrics of one monitor (and, when given, its server)."""

    name = "metrics"

    def __init__(
        self,
        monitor: Monitor,
        *,
        server_stats: Callable[[], dict[str, int]] | None = None,
        published: Callable[[], int] | None = None,
    ) -> None:
        self.monitor = monitor
        self.server_stats = server_stats
        self.published = published
        self.registry = CollectorRegistry()
        self.decode_seconds = Histogram(
            "callmon_decode_seconds",
            "Time one decode took, by kind (final, partial)",
            ["kind"],
            buckets=DECODE_BUCKETS,
            registry=self.registry,
        )
        self.decode_wait = Histogram(
            "callmon_decode_wait_seconds",
            "Time a decode waited in the shared queue before it started, by kind",
            ["kind"],
            buckets=DECODE_BUCKETS,
            registry=self.registry,
        )
        self.scoring_seconds = Histogram(
            "callmon_scoring_seconds",
            "From a final utterance's publication to its score's (scorer queue and model)",
            buckets=SCORING_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LiveState(self))
        self._finals: dict[tuple[str, int], float] = {}
        self._delay_marks = 0
        self._delayed: set[str] = set()
        self._scheduler = getattr(monitor.engine, "scheduler", None)
        if self._scheduler is not None:
            self._scheduler.observers.append(self._observe_decode)
        monitor.bus.add_sink(self._on_event)

    # ---- feeding ------------------------------------------------------------------------------
    def _observe_decode(self, kind: str, wait_s: float, took_s: float) -> None:
        # called from the decode threads; prometheus_client's metrics are thread-safe
        self.decode_wait.labels(kind).observe(wait_s)
        self.decode_seconds.labels(kind).observe(took_s)

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.FinalUtterance):
            if len(self._finals) >= MAX_OPEN_FINALS:  # unscored ones (a scorer that failed)
                self._finals.pop(next(iter(self._finals)))
            self._finals[(event.call_id, event.seq)] = time.monotonic()
        elif isinstance(event, ev.UtteranceScore):
            since = self._finals.pop((event.call_id, event.seq), None)
            if since is not None:
                self.scoring_seconds.observe(time.monotonic() - since)
        elif isinstance(event, ev.CallLag):
            # repeated while a call stays delayed: count each time it becomes so
            if event.delayed and event.call_id not in self._delayed:
                self._delay_marks += 1
                self._delayed.add(event.call_id)
            elif not event.delayed:
                self._delayed.discard(event.call_id)
        elif isinstance(event, ev.CallEnded):
            self._delayed.discard(event.call_id)
            self._finals = {k: v for k, v in self._finals.items() if k[0] != event.call_id}

    # ---- serving ------------------------------------------------------------------------------
    def render(self) -> bytes:
        return generate_latest(self.registry)

    def handler(
        self, authorize: Callable[[str | None], bool]
    ) -> Callable[[str, str, dict[str, list[str]]], HttpResult | None]:
        """The HTTP handler for ``/metrics`` (a supervisor token in ``?token=``)."""

        def handle(method: str, path: str, query: dict[str, list[str]]) -> HttpResult | None:
            if path != "/metrics":
                return None
            if method != "GET":
                return 405, "text/plain; charset=utf-8", b"/metrics answers GET only\n"
            tokens = query.get("token") or [""]
            token = tokens[0] or None
            if not authorize(token):
                return (
                    401,
                    "text/plain; charset=utf-8",
                    b"/metrics needs a supervisor token: /metrics?token=...\n",
                )
            return 200, CONTENT_TYPE, self.render()

        return handle

    # ---- lifecycle (a runtime service: detach from the process-wide decoder at the end) --------
    async def start(self) -> None:
        return None

    async def aclose(self, timeout: float | None = None) -> None:
        if self._scheduler is not None and self._observe_decode in self._scheduler.observers:
            self._scheduler.observers.remove(self._observe_decode)


class _LiveState(Collector):
    """Gauges and counters read at scrape time from the live objects."""

    def __init__(self, metrics: OperatorMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        monitor = m.monitor
        yield _gauge("callmon_calls_active", "Calls in flight", len(monitor.calls))
        delayed = monitor.delayed_calls()
        yield _gauge("callmon_calls_delayed", "Calls marked delayed now", len(delayed))
        lag = GaugeMetricFamily(
            "callmon_call_lag_seconds",
            "How far each call's analysis is behind its audio",
            labels=["call_id"],
        )
        for call_id, seconds in sorted(monitor.lags().items()):
            lag.add_metric([call_id], seconds)
        yield lag
        depth = GaugeMetricFamily(
            "callmon_queue_depth", "Items waiting before each stage", labels=["stage"]
        )
        for stage, n in monitor.queue_depths().items():
            depth.add_metric([stage], n)
        scheduler = m._scheduler
        if scheduler is not None:
            depth.add_metric(["decode"], scheduler.queued)
        requests = getattr(monitor.scoring, "_requests", None)
        if requests is not None:
            depth.add_metric(["scoring"], requests.qsize())
        yield depth
        stats = _call(m.server_stats)
        if scheduler is not None:
            yield _gauge("callmon_decodes_running", "Decodes in progress", scheduler.running)
            done = CounterMetricFamily("callmon_decodes", "Decodes done", labels=["kind"])
            done.add_metric(["final"], scheduler.counts["final"])
            done.add_metric(["partial"], scheduler.counts["partial"])
            yield done
            yield CounterMetricFamily(
                "callmon_partials_shed",
                "Partial decodes skipped: no spare decoder (overload, step 1)",
                value=scheduler.counts["partial_shed"],
            )
        scored = getattr(monitor.scoring, "partials_scored", None)
        if scored is not None:
            early = CounterMetricFamily(
                "callmon_early_scores",
                "Customers' partial transcripts scored for early alerts, or shed (scorer busy)",
                labels=["outcome"],
            )
            early.add_metric(["scored"], scored)
            early.add_metric(["shed"], getattr(monitor.scoring, "partials_shed", 0))
            yield early
        yield CounterMetricFamily(
            "callmon_delay_marks",
            "Times a call was marked delayed (overload, step 2)",
            value=m._delay_marks,
        )
        if stats:
            yield _gauge(
                "callmon_websocket_clients", "Board and agent connections", stats["clients"]
            )
        published = _call(m.published)
        if published is not None:
            yield CounterMetricFamily("callmon_bus_events", "Events published", value=published)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _call(fn: Callable[[], Any] | None) -> Any:
    return fn() if fn is not None else None


def operator_metrics(rt: Runtime) -> None:
    """Runtime extension: /metrics on the server's port, for supervisor tokens."""
    if rt.monitor is None:
        return
    metrics = OperatorMetrics(
        rt.monitor,
        server_stats=lambda: rt.server.stats() if rt.server is not None else {},
        published=lambda: rt.bus.published,
    )
    rt.add_http_handler(metrics.handler(rt.is_supervisor))
    rt.add_service(metrics)
