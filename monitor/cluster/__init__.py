"""Cluster mode: many machines, one board (docs/scaling.md).

Ingest nodes append each call's audio to a Redis stream; workers take calls through a
consumer group (the lease) and run the ordinary pipeline (:class:`monitor.pipeline.Monitor`)
behind two seams: an audio source that reads the call's stream and a bus that persists
each event to PostgreSQL by its deterministic id and appends it to the ``events`` stream
(fenced by the lease). Board servers read that stream and serve the ordinary board.
"""
