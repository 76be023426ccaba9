"""Reading the shell commands out of Markdown, with the rules written beside them.

A fenced block whose language is ``sh`` holds commands, one a line (a trailing ``\\``
continues a line; ``  # ...`` after a command is a comment). HTML comments before a block
carry rules for that block's commands, matched by the start of the command:

    <!-- readme-test: skip "make test" -- runs the test suite itself (recursive) -->
    <!-- readme-test: background "make run" until http://127.0.0.1:8000/healthz -->
    <!-- readme-test: expect ".venv/bin/publisher digest send" "sent 3" -->
    <!-- readme-test: count ".venv/bin/publisher digest send" var/outbox/*.eml 3 -->
    <!-- readme-test: fails ".venv/bin/publisher restore" -->

Several rules may share one comment, separated by ``;;``.

``skip`` needs a reason after ``--``; ``background`` starts a command that blocks and waits
until the URL answers; ``expect`` wants the text in the command's output; ``count`` wants
that many files matching the glob afterwards; ``fails`` wants a non-zero exit (a command the
README shows being refused). Blocks in other languages (``ini``,
``nginx``) are not commands.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

import click

RULE = re.compile(r"<!--\s*readme-test:\s*(?P<body>.*?)\s*-->", re.S)
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.M | re.S)
TRAILING_COMMENT = re.compile(r"\s{2,}#.*$")


@dataclass
class Command:
    line: str
    block: int
    skip: str = ""  # the reason, when skipped
    background: str = ""  # the URL to wait for, when started in the background
    expect: list[str] = field(default_factory=list)
    counts: list[tuple[str, int]] = field(default_factory=list)
    fails: bool = False


@dataclass
class Rule:
    verb: str
    prefix: str
    args: list[str]
    used: bool = False


def parse_rule(body: str) -> Rule:
    verb, _, rest = body.partition(" ")
    if verb == "skip":
        prefix, _, reason = rest.partition(" -- ")
        words = [shlex.split(prefix)[0], reason.strip()]
        assert words[1], f"a skip needs a reason after ' -- ': {body}"
        return Rule(verb, words[0], words[1:])
    words = shlex.split(rest)
    assert verb in ("background", "expect", "count", "fails"), f"unknown rule: {body}"
    return Rule(verb, words[0], words[1:])


def commands_of(code: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in code.splitlines():
        text = raw.rstrip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text = TRAILING_COMMENT.sub("", pending + text).strip()
        pending = ""
        if text and not text.startswith("#"):
            lines.append(text)
    return lines


def read_commands(markdown: str) -> tuple[list[Command], list[Rule]]:
    """Every command of every ``sh`` block in order, with its rules applied."""
    events = sorted(
        [(m.start(), "rule", m) for m in RULE.finditer(markdown)]
        + [(m.start(), "fence", m) for m in FENCE.finditer(markdown)],
        key=lambda e: e[0],
    )
    found: list[Command] = []
    every: list[Rule] = []
    pending: list[Rule] = []
    for block, (_pos, kind, match) in enumerate(events):
        if kind == "rule":
            for part in match.group("body").split(";;"):
                rule = parse_rule(part.strip())
                pending.append(rule)
                every.append(rule)
            continue
        if match.group("lang") != "sh":
            continue
        for line in commands_of(match.group("code")):
            command = Command(line, block)
            for rule in pending:
                if line.startswith(rule.prefix):
                    _apply(rule, command)
            found.append(command)
        pending = []
    return found, every


def _apply(rule: Rule, command: Command) -> None:
    rule.used = True
    if rule.verb == "skip":
        command.skip = rule.args[0]
    elif rule.verb == "background":
        assert rule.args[0] == "until", rule
        command.background = rule.args[1]
    elif rule.verb == "fails":
        command.fails = True
    elif rule.verb == "expect":
        command.expect.append(rule.args[0])
    else:
        command.counts.append((rule.args[0], int(rule.args[1])))


def cli_problem(group: click.Group, words: list[str]) -> str | None:
    """Why ``publisher WORDS`` is not a command line our CLI accepts (None when it is).

    Checks the command path and that every ``--option`` exists; values are not checked.
    """
    command: click.Command = group
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word.startswith("-") and word != "-":
            name = word.split("=")[0]
            param = _option(command, name)
            if param is None:
                return f"{command.name} has no option {name}"
            if not param.is_flag and "=" not in word and rest:  # type: ignore[attr-defined]
                rest.pop(0)  # the option's value
        elif isinstance(command, click.Group):
            found = command.commands.get(word)
            if found is None:
                return f"no command {word!r}"
            command = found
    return None


def _option(command: click.Command, name: str) -> click.Parameter | None:
    if name == "--help":
        return click.Option(["--help"], is_flag=True)
    for param in command.params:
        if name in (*param.opts, *param.secondary_opts):
            return param
    return None
