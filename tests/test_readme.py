"""README.md is a test: its commands run, in order, in a fresh sandbox, and do what it says.

The sandbox is a temporary project folder with copies of ``config/``, ``examples/``, the
Makefile and pyproject.toml, and a ``.venv/bin`` whose ``publisher`` and ``python`` run
this checkout (the Makefile's install stamp is fresh, so ``make run`` installs nothing).
The database, outbox and feeds are the sandbox's own. Two substitutions keep it off ports
in use: ``127.0.0.1:8000`` and ``--port 8000`` become a free port, which the sandbox also
sets as ``PUBLISHER_WEB__PORT``.

Rules written in the README source as HTML comments (see tests/readme_runner.py) say which
commands block (started in the background, waited for, stopped at the end), which are
skipped and why (recursive, or needing a server the test does not start), and what output
or files a command must produce. Any non-zero exit, missing output or stale rule fails.

The docs are checked offline: every file they name exists, and every ``publisher``
command line in their ``sh`` blocks is one the CLI accepts (command and options).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from localhost import free_port
from readme_runner import Command, cli_problem, commands_of, read_commands

from publisher.cli import main

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
COPIED = ("config", "examples", "Makefile", "pyproject.toml")


def make_sandbox(root: Path) -> None:
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy2(source, root / name)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, run in (("python", ""), ("publisher", " -m publisher")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}"{run} "$@"\n', encoding="utf-8")
        script.chmod(0o755)
    (root / ".venv" / ".installed-stamp").touch()


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
        self.env = {**env, "PYTHONPATH": str(REPO), "PUBLISHER_WEB__PORT": str(self.port)}
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []
        self._logs: list[IO[bytes]] = []

    def adapt(self, text: str) -> str:
        text = text.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")
        return text.replace("--port 8000", f"--port {self.port}")

    def run(self, command: Command) -> str:
        line = self.adapt(command.line)
        if command.background:
            return self.start(line, self.adapt(command.background))
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        output = done.stdout + done.stderr
        if command.fails:
            assert done.returncode != 0, f"README says this is refused, but it ran: {line}"
        else:
            assert done.returncode == 0, (
                f"README command failed ({done.returncode}): {line}\n{output}"
            )
        return output

    def start(self, line: str, url: str) -> str:
        log = self.root / f"background-{len(self.background)}.log"
        self._logs.append(log.open("wb"))
        process = subprocess.Popen(
            ["bash", "-c", line],
            cwd=self.root,
            env=self.env,
            stdout=self._logs[-1],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.background.append((process, log))
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"{line} exited:\n{log.read_text()}"
            try:
                httpx.get(url, timeout=2)
                return log.read_text(encoding="utf-8")
            except httpx.HTTPError:
                assert time.monotonic() < deadline, f"{url} never answered:\n{log.read_text()}"
                time.sleep(0.2)

    def stop(self) -> None:
        for process, log in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
                pytest.fail(f"did not stop on SIGTERM:\n{log.read_text()}")
        for handle in self._logs:
            handle.close()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    root = tmp_path / "publisher"
    root.mkdir()
    make_sandbox(root)
    box = Sandbox(root)
    try:
        yield box
    finally:
        box.stop()


@pytest.mark.slow
def test_readme_commands_run_as_written(sandbox: Sandbox) -> None:
    commands, rules = read_commands(README.read_text(encoding="utf-8"))
    stale = [f"{r.verb} {r.prefix!r}" for r in rules if not r.used]
    assert not stale, f"README rules that match no command: {stale}"
    ran = 0
    for command in commands:
        if command.skip:
            print(f"skipped by README rule: {command.line}  ({command.skip})")
            continue
        output = sandbox.run(command)
        ran += 1
        for text in command.expect:
            wanted = sandbox.adapt(text)
            assert wanted in output, f"{command.line}: README promises {wanted!r}:\n{output}"
        for pattern, number in command.counts:
            found = sorted(sandbox.root.glob(pattern))
            assert len(found) == number, f"{command.line}: {pattern}: {len(found)} != {number}"
    assert ran >= 20, f"only {ran} README commands ran"
    sandbox.stop()
    for process, log in sandbox.background:
        assert process.returncode in (0, -signal.SIGTERM, 2), log.read_text()


# --- the docs, offline ---------------------------------------------------------------------

NAMED_PATH = re.compile(
    r"(?<![\w/.-])((?:examples|deploy|docs|config|scripts|bench|tests|publisher|templates)"
    r"/[\w./@-]*[\w/@-])"
)


# Named in the docs but made elsewhere: the wheel installs templates/ as publisher/templates/.
NOT_IN_A_CHECKOUT = {"publisher/templates/"}


def test_files_the_docs_name_exist() -> None:
    missing = []
    for doc in DOCS:
        for match in NAMED_PATH.finditer(doc.read_text(encoding="utf-8")):
            name = match.group(1)
            if name not in NOT_IN_A_CHECKOUT and not (REPO / name).exists():
                missing.append(f"{doc.relative_to(REPO)}: {name}")
    assert not missing, "files named in the docs do not exist:\n" + "\n".join(missing)


def _publisher_words(line: str) -> list[list[str]]:
    """The arguments of each ``publisher`` invocation in a shell line."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    found: list[list[str]] = []
    current: list[str] | None = None
    previous = ""
    for word in words:
        if word in ("|", "&&", ";", "||") or word.startswith(">"):
            current = None
        elif current is not None:
            current.append(word)
        elif word.endswith("bin/publisher") or (
            word == "publisher" and previous in ("", "|", "&&", ";")
        ):
            current = []
            found.append(current)
        previous = word
    return found


def test_every_publisher_command_in_the_docs_is_one_the_cli_accepts() -> None:
    problems = []
    checked = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in re.finditer(r"^```sh\n(.*?)^```", text, re.M | re.S):
            for line in commands_of(block.group(1)):
                for words in _publisher_words(line):
                    checked += 1
                    problem = cli_problem(main, words)  # type: ignore[arg-type]
                    if problem:
                        problems.append(f"{doc.relative_to(REPO)}: {line}: {problem}")
    assert checked > 20
    assert not problems, "\n".join(problems)
