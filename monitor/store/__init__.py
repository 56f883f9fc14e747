"""Every call kept: SQLite store (db, schema, query), recordings (audio), PII redaction
(redact), reports and incident records (report, chart, incident), the QA page's API (http)."""
