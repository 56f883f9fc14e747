"""Rules: one call's escalation risk, the playbook, alerts, prompt cards, agent coaching and
agent strain."""

from monitor.rules.catalogue import CardCatalogue, CardText
from monitor.rules.coaching import PhraseBook, normalise
from monitor.rules.engine import CallRules
from monitor.rules.floor import Floor
from monitor.rules.playbook import Playbook, Rule, Settings
from monitor.rules.risk import EscalationScorer
from monitor.rules.risk_config import RiskConfig
from monitor.rules.strain import StrainTracker
from monitor.rules.toml_lines import PlaybookError

__all__ = [
    "CallRules",
    "CardCatalogue",
    "CardText",
    "EscalationScorer",
    "Floor",
    "PhraseBook",
    "Playbook",
    "PlaybookError",
    "RiskConfig",
    "Rule",
    "Settings",
    "StrainTracker",
    "normalise",
    "strain_tracker",
]


def strain_tracker(playbook: Playbook) -> StrainTracker:
    """A StrainTracker configured from the playbook's [settings]."""
    return StrainTracker(playbook.settings.strain_window, playbook.settings.strain_threshold)
