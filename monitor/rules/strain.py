"""Agent strain: a supervisor should notice an agent taking a run of hostile calls.

Process-wide and bounded: it remembers the last ``window`` calls of at most ``max_agents``
agents (least recently seen agents are forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict, deque

from monitor.events import AgentStrain


class StrainTracker:
    """Raises AgentStrain when ``threshold`` of an agent's last ``window`` calls were hostile."""

    def __init__(self, window: int = 5, threshold: int = 3, max_agents: int = 10_000) -> None:
        if not 0 < threshold <= window:
            raise ValueError(
                f"strain threshold must be between 1 and the window ({window}), got {threshold}; "
                "fix strain_threshold / strain_window in the playbook's [settings]"
            )
        self.window = window
        self.threshold = threshold
        self.max_agents = max_agents
        self._calls: OrderedDict[str, deque[bool]] = OrderedDict()
        self._since_raised: dict[str, int] = {}

    def on_call_ended(self, agent_id: str, hostile: bool) -> AgentStrain | None:
        """Record one finished call; returns AgentStrain when the agent needs a break.

        Raised on the hostile call that reaches the threshold, then not again until the
        agent has taken ``window`` more calls, so the board is told once per run.
        """
        calls = self._calls.pop(agent_id, None) or deque(maxlen=self.window)
        calls.append(hostile)
        self._calls[agent_id] = calls
        while len(self._calls) > self.max_agents:
            forgotten, _ = self._calls.popitem(last=False)
            self._since_raised.pop(forgotten, None)
        since = self._since_raised.get(agent_id)
        if since is not None:
            self._since_raised[agent_id] = since + 1
        hostile_calls = sum(calls)
        quiet = since is None or since + 1 >= self.window
        if not (hostile and hostile_calls >= self.threshold and quiet):
            return None
        self._since_raised[agent_id] = 0
        return AgentStrain(
            agent_id=agent_id,
            hostile_calls=hostile_calls,
            recent_calls=len(calls),
            suggestion=(
                f"{hostile_calls} of the last {len(calls)} calls were hostile: "
                "check in with the agent and offer a short break before the next call"
            ),
        )

    def hostile_count(self, agent_id: str) -> int:
        return sum(self._calls.get(agent_id, ()))
