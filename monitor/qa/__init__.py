"""The QA reviewer's side of the store: the QA page's HTTP API (http), per-call reports
(report, chart), incident records (incident), erasure on request (calls_cmd), and an example
call for tests and benchmarks (example)."""
