"""Line numbers for the tables and keys of a TOML document.

``tomllib`` parses but forgets where things were, and a playbook error without a line number
sends the author hunting. This scanner walks the text once and records the line of every table
header and key, keyed by its path: ``("settings",)``, ``("settings", "cooldown")``,
``("rule", 0)`` for the first ``[[rule]]``, ``("rule", 0, "trigger")``, and dotted keys
expanded (``en.title = ...`` under ``[cards.x]`` is ``("cards", "x", "en", "title")``).

It is deliberately a scanner, not a parser: it only runs on text ``tomllib`` already accepted,
so it needs to understand just enough (quoted keys, strings, multi-line strings and arrays)
to never mistake a value for a key.
"""

from __future__ import annotations

import pathlib
import tomllib
from importlib import resources
from typing import Any

Path = tuple[str | int, ...]


def _split_key(raw: str) -> list[str]:
    """Split a (possibly dotted, possibly quoted) TOML key into its parts."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in raw:
        if quote:
            if ch == quote:
                quote = ""
            else:
                current.append(ch)
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _key_end(line: str) -> int:
    """Index of the ``=`` that ends the key on a key/value line, or -1."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return i
    return -1


class _ValueScanner:
    """Tracks whether a value continues on later lines (open array, multi-line string)."""

    def __init__(self) -> None:
        self.depth = 0  # open [ and { brackets
        self.multiline = ""  # the open multi-line string delimiter, if any

    @property
    def open(self) -> bool:
        return self.depth > 0 or bool(self.multiline)

    def feed(self, text: str) -> None:
        i = 0
        n = len(text)
        while i < n:
            if self.multiline:
                end = text.find(self.multiline, i)
                if end < 0:
                    return
                i = end + 3
                self.multiline = ""
                continue
            ch = text[i]
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.multiline = text[i : i + 3]
                i += 3
            elif ch in "\"'":
                i = self._skip_string(text, i)
            elif ch == "#":
                return
            elif ch in "[{":
                self.depth += 1
                i += 1
            elif ch in "]}":
                self.depth -= 1
                i += 1
            else:
                i += 1

    @staticmethod
    def _skip_string(text: str, start: int) -> int:
        quote = text[start]
        i = start + 1
        while i < len(text):
            if quote == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == quote:
                return i + 1
            i += 1
        return i


def locate_lines(text: str) -> dict[Path, int]:
    """Map every table and key path in ``text`` to its 1-based line number."""
    lines: dict[Path, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: Path = ()
    value = _ValueScanner()
    for number, raw in enumerate(text.splitlines(), start=1):
        if value.open:
            value.feed(raw)
            continue
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            name = tuple(_split_key(line[2 : line.index("]]")]))
            index = counts.get(name, 0)
            counts[name] = index + 1
            table = (*name, index)
            for depth in range(1, len(table) + 1):  # parents too: [cards.x.en] defines cards.x
                lines.setdefault(table[:depth], number)
            continue
        if line.startswith("["):
            table = tuple(_split_key(line[1 : line.index("]")]))
            for depth in range(1, len(table) + 1):
                lines.setdefault(table[:depth], number)
            continue
        end = _key_end(line)
        if end < 0:
            continue
        key = _split_key(line[:end])
        for depth in range(1, len(key) + 1):
            lines.setdefault((*table, *key[:depth]), number)
        value.feed(line[end + 1 :])
    return lines


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of ``path``, or of its nearest enclosing table or key that has one."""
    for depth in range(len(path), 0, -1):
        found = lines.get(path[:depth])
        if found is not None:
            return found
    return None


class PlaybookError(ValueError):
    """A problem in a playbook, card catalogue or phrase file, naming file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class Problems:
    """Collects every problem of one file so the author can fix them all in one go."""

    def __init__(self, path: object, lines: dict[Path, int]) -> None:
        self.path = path
        self.lines = lines
        self.items: list[str] = []

    def add(self, at: Path, field: str, message: str) -> None:
        line = line_of(self.lines, at)
        where = f"{self.path}, line {line}" if line is not None else f"{self.path}"
        self.items.append(f"{where}: field '{field}': {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise PlaybookError(self.items)


def read_rules_file(packaged: str, path: pathlib.Path | None, what: str) -> tuple[str, str]:
    """The text of ``path`` (or of the packaged ``monitor/rules/<packaged>``) and the name to
    show in messages; an unreadable file is a PlaybookError naming it."""
    if path is None:
        text = resources.files("monitor.rules").joinpath(packaged).read_text("utf-8")
        return text, f"monitor/rules/{packaged}"
    try:
        return pathlib.Path(path).read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise PlaybookError([f"{path}: cannot read the {what}: {exc}"]) from exc


def load_toml(path: object, text: str) -> tuple[dict[str, Any], dict[Path, int]]:
    """Parse ``text`` (read from ``path``); syntax errors become a PlaybookError with the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError([f"{path}: invalid TOML: {exc}"]) from exc
    return data, locate_lines(text)
