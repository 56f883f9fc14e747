"""Playbook, card catalogue and phrase files: loading, and errors that name file, line, field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from monitor.events import INTENTS
from monitor.languages import LANGUAGE_CODES
from monitor.rules import CardCatalogue, PhraseBook, Playbook, PlaybookError
from monitor.rules.toml_lines import locate_lines

GOOD_RULE = """
[[rule]]
name = "manager"
trigger = "intent"
intent = "manager_demand"
alert = "warning"
message = "Customer asked for a manager"
card = "manager_request"
"""


def load_text(tmp_path: Path, text: str, name: str = "pb.toml") -> Playbook:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Playbook.load(path)


def error_of(tmp_path: Path, text: str) -> PlaybookError:
    with pytest.raises(PlaybookError) as info:
        load_text(tmp_path, text)
    return info.value


def test_default_playbook_loads_and_covers_every_intent() -> None:
    playbook = Playbook.load()
    intents = {r.params["intent"] for r in playbook.rules if r.trigger == "intent"}
    assert intents == set(INTENTS)
    triggers = {r.trigger for r in playbook.rules}
    assert {"risk_level", "sentiment_drop", "acoustic", "silence", "agent_phrase"} <= triggers
    for rule in playbook.rules:
        assert rule.line is not None and rule.line > 0
        if rule.card:
            assert all(lang in playbook.cards.cards[rule.card] for lang in LANGUAGE_CODES)


def test_every_card_has_all_four_languages_with_distinct_text() -> None:
    catalogue = CardCatalogue.load()
    assert len(catalogue.cards) >= 15
    for key, per_language in catalogue.cards.items():
        assert set(per_language) == set(LANGUAGE_CODES), key
        bodies = {t.body for t in per_language.values()}
        assert len(bodies) == 4, f"card {key} has untranslated text"


def test_minimal_playbook(tmp_path: Path) -> None:
    playbook = load_text(tmp_path, GOOD_RULE)
    (rule,) = playbook.rules
    assert rule.name == "manager"
    assert rule.params == {
        "intent": "manager_demand",
        "min_probability": 0.5,
        "min_count": 1,
        "speaker": "customer",
    }
    assert rule.cooldown == playbook.settings.cooldown
    assert rule.line == 2


@pytest.mark.parametrize(
    ("snippet", "line", "field", "words"),
    [
        ('trigger = "on_fire"', 4, "trigger", "unknown trigger 'on_fire'"),
        ('alert = "urgent"', 6, "alert", "bad severity 'urgent'"),
        ('card = "hug"', 8, "card", "unknown card key 'hug'"),
        ("cooldown = -5", 9, "cooldown", "cooldown must be a number of seconds >= 0"),
        ('intent = "manager"', 5, "intent", "'manager' is not one of"),
        ("min_probabilty = 0.7", 9, "min_probabilty", "unknown key in rule 'manager'"),
        ("min_count = -1", 9, "min_count", "must be a whole number >= 0"),
        ("enabled = 1", 9, "enabled", "must be true or false"),
    ],
)
def test_rule_errors_name_line_and_field(
    tmp_path: Path, snippet: str, line: int, field: str, words: str
) -> None:
    key = snippet.split(" =")[0]
    lines = GOOD_RULE.strip("\n").splitlines()
    replaced = [snippet if ln.startswith(f"{key} =") else ln for ln in lines]
    if replaced == lines:
        replaced.append(snippet)
    text = "\n" + "\n".join(replaced) + "\n"
    err = error_of(tmp_path, text)
    assert len(err.problems) == 1, err.problems
    message = err.problems[0]
    assert f"pb.toml, line {line}: field '{field}'" in message
    assert words in message


def test_missing_required_field_points_at_the_rule(tmp_path: Path) -> None:
    text = (
        '[settings]\ncooldown = 30\n\n[[rule]]\nname = "loud"\ntrigger = "acoustic"\n'
        'card = "slow_down"\n'
    )
    err = error_of(tmp_path, text)
    assert any("line 4: field 'feature'" in p and "needs 'feature'" in p for p in err.problems)
    assert any("line 4: field 'above'" in p for p in err.problems)


def test_all_problems_reported_at_once_with_their_lines(tmp_path: Path) -> None:
    text = (
        "[settings]\n"
        "cooldown = -1\n"  # line 2
        "max_cardz = 3\n"  # line 3
        "\n"
        "[risk]\n"
        "thresholds = [60, 50, 90]\n"  # line 6
        "\n"
        "[[rule]]\n"  # line 8
        'name = "a"\n'
        'trigger = "silence"\n'
        "seconds = 30\n"
        'card = "after_hold"\n'
        "\n"
        "[[rule]]\n"  # line 14
        'name = "a"\n'  # line 15: duplicate
        'trigger = "risk_level"\n'
        'level = "on_fire"\n'  # line 17
        'alert = "warning"\n'  # no message -> points at the rule (line 14)
    )
    err = error_of(tmp_path, text)
    joined = "\n".join(err.problems)
    assert "line 2: field 'cooldown'" in joined
    assert "line 3: field 'max_cardz'" in joined
    assert "line 6: field 'thresholds'" in joined
    assert "line 15: field 'name'" in joined and "duplicate rule name 'a'" in joined
    assert "line 17: field 'level'" in joined
    assert "line 14: field 'message'" in joined
    assert len(err.problems) == 6, joined


def test_rule_without_action_and_alert_without_message(tmp_path: Path) -> None:
    err = error_of(tmp_path, '[[rule]]\nname = "x"\ntrigger = "silence"\nseconds = 9\n')
    assert "line 1: field 'alert'" in err.problems[0]
    assert "has no action" in err.problems[0]


def test_toml_syntax_error_has_the_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, '[[rule]]\nname = "x"\ntrigger = \n')
    assert "pb.toml: invalid TOML" in str(err)
    assert "line 3" in str(err)


def test_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read the playbook"):
        Playbook.load(tmp_path / "missing.toml")


def test_no_rules_is_an_error(tmp_path: Path) -> None:
    err = error_of(tmp_path, "[settings]\ncooldown = 10\n")
    assert "no rules" in str(err)


def test_missing_card_translation_names_file_line_field(tmp_path: Path) -> None:
    cards = tmp_path / "cards.toml"
    cards.write_text(
        "[cards.calm.en]\ntitle = 'Calm'\nbody = 'Be calm.'\n"
        "[cards.calm.id]\ntitle = 'Tenang'\nbody = 'Tetap tenang.'\n"
        "[cards.calm.ms]\ntitle = 'Tenang'\nbody = ''\n"  # line 9: empty body
        "[cards.calm.de]\ntitle = 'Ruhig'\nbody = 'Ruhig.'\n",  # line 10: unsupported language
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError) as info:
        CardCatalogue.load(cards)
    joined = "\n".join(info.value.problems)
    assert "cards.toml, line 1: field 'cards.calm.ro': missing translation" in joined
    assert "line 9: field 'cards.calm.ms.body': missing or empty text" in joined
    assert "line 10: field 'cards.calm.de': unknown language" in joined


def test_phrase_file_errors(tmp_path: Path) -> None:
    phrases = tmp_path / "phrases.toml"
    phrases.write_text(
        "[lists.defensive.en]\nphrases = ['calm down']\npatterns = ['(unclosed']\n"
        "[lists.hugs.en]\nphrases = ['hug']\n",
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError) as info:
        PhraseBook.load(phrases)
    joined = "\n".join(info.value.problems)
    assert "line 3: field 'lists.defensive.en.patterns': bad regular expression" in joined
    assert "line 4: field 'lists.hugs': unknown phrase list" in joined
    assert "field 'lists.defensive.id': missing translation" in joined
    assert "field 'lists.dont_know': missing phrase list" in joined


def test_locate_lines_handles_multiline_values_and_dotted_keys() -> None:
    text = (
        "# comment\n"
        "[settings]\n"
        "a = [\n"
        "  1, # not = a key\n"
        "  2,\n"
        "]\n"
        'b = """\n'
        "c = not a key\n"
        '"""\n'
        "[cards.x]\n"
        'en.title = "t = u"\n'
        "[[rule]]\n"
        "name = 'one'\n"
        "[[rule]]\n"
        '"quoted.key" = 2\n'
    )
    lines = locate_lines(text)
    assert lines[("settings",)] == 2
    assert lines[("settings", "a")] == 3
    assert lines[("settings", "b")] == 7
    assert ("settings", "c") not in lines
    assert lines[("cards", "x", "en", "title")] == 11
    assert lines[("rule", 0, "name")] == 13
    assert lines[("rule", 1)] == 14
    assert lines[("rule", 1, "quoted.key")] == 15


def test_settings_and_risk_overrides(tmp_path: Path) -> None:
    text = (
        "[settings]\nmax_cards = 1\nboard_language = 'id'\n"
        "[risk]\nthresholds = [20, 40, 60]\nintent_points = { abuse = 60 }\n" + GOOD_RULE
    )
    playbook = load_text(tmp_path, text)
    assert playbook.settings.max_cards == 1
    assert playbook.settings.board_language == "id"
    assert playbook.risk.thresholds == (20.0, 40.0, 60.0)
    assert playbook.risk.intent_points["abuse"] == 60.0
    assert playbook.risk.intent_points["manager_demand"] > 0  # others keep their defaults


def test_disabled_rule_is_dropped(tmp_path: Path) -> None:
    playbook = load_text(
        tmp_path, GOOD_RULE + "enabled = false\n" + GOOD_RULE.replace('"manager"', '"m2"', 1)
    )
    assert [r.name for r in playbook.rules] == ["m2"]


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.rules.__main__ import main

    assert main(["check"]) == 0
    assert "rules OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "x"\ntrigger = "intent"\nintent = "nope"\ncard = "zz"\n')
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml, line 4: field 'intent'" in err
    assert "bad.toml, line 5: field 'card'" in err


def test_board_language_must_be_supported(tmp_path: Path) -> None:
    # It used to be any string, and an unsupported one silently gave English reasons.
    error = error_of(tmp_path, "[settings]\nboard_language = 'de'\n" + GOOD_RULE)
    assert "line 2: field 'board_language': 'de' is not one of en, id, ms, ro" in str(error)


def test_number_words_of_an_unknown_language_are_an_error(tmp_path: Path) -> None:
    phrases = tmp_path / "phrases.toml"
    text = (resources.files("monitor.rules") / "phrases.toml").read_text("utf-8")
    phrases.write_text(
        text.replace("\n[numbers]\n", "\n[numbers]\nxx = ['one']\n", 1), encoding="utf-8"
    )
    with pytest.raises(PlaybookError, match=r"line 13: field 'numbers\.xx': unknown language"):
        PhraseBook.load(phrases)
