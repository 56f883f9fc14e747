"""callmon: a local, real-time call sentiment and escalation monitor."""

__version__ = "0.1.0"
