"""The rules of the executed docs (tests/docs): which fenced blocks of a page are examples, and when a command's
output matches the output the page shows. Pure text functions; tests/docs/conftest.py runs the examples.

A page's fenced blocks, in page order:

- **A transcript**: a block (any info string, usually none or `console`) whose first line starts with `$ `. Each
  `$ ` line is a command (a line ending in `\\` continues on the next); the lines up to the next `$ ` line are its
  shown output, compared with what the command prints (stdout and stderr together) after masking. Its exit status
  must be 0, or 2 where the shown output holds an `eagergraph: error:` line.
- **Commands**: a ```bash (or sh, shell) block without a `$ ` prompt. Each command line runs and must exit with
  status 0; its output is not compared (the page shows what to type, not what comes back).
- **Python**: a ```python block runs in the page's namespace (one per page, shared by its snippets) and must not
  raise; a snippet that shows a value prints it.
- **A file**: a block right after `<!-- file: NAME -->` is written to NAME in the page's folder (a TOML config, a
  small CSV) for the examples after it; it is shown as any other block.
- **Covered elsewhere**: a block right after `<!-- covered-by: tests/x/test_y.py::test_z -->` (several names:
  comma-separated) is not run here; it is for commands that run until stopped (`serve`, `server start` in the
  foreground, `prefect worker start`), need another machine or a sudo, or take minutes (benchmarks, sweeps). Each
  named test must exist (tests/unit/test_docs_harness.py checks every page).
- Any other block (no info string and no `$ `, or toml, yaml, json, text) is an illustration: a diagram, a schema,
  a line quoted in prose. It is not run.

Matching a transcript's output (`match`): both sides are masked line by line, then compared as token streams, so
line wrapping and table column widths (which follow the terminal and the numbers) do not matter, words and numbers
do:

- Masked (`mask`): the page's folder is shown as `/home/you/eagergraph`; run ids, flow-run ids and UUIDs, dates and
  clock times, the port of a 127.0.0.1/localhost URL, durations (a number with s, ms, seconds or min, and every
  number on a line naming a `*_seconds` or `*_ms` figure), speedups (`6.6x`) and memory sizes (`1.2 GB`).
- Dropped on both sides: Prefect's own log lines (`06:55:49.542 | INFO | …`) and the `Prefect UI: …` line (it names
  the server the user's run found; the tests' server is given by PREFECT_API_URL, for which no line is printed).
- Elided: `...` in the shown output (a token, or a line of its own) matches anything, also nothing; so does a shown
  line in parentheses ending in `left out)`, e.g. `(Prefect's log lines left out)`.
- Numbers: integers must be equal; a number with a decimal point or exponent matches within 0.05 absolute (the
  tests run on another CPU than the page's run), or within the value of a `<!-- tolerance: 0.1 -->` directive
  right before the block.
- Box-drawing characters (table borders) are ignored.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

SHOWN_HOME = "/home/you/eagergraph"  # how a page shows the folder its commands ran in
TOLERANCE = 0.05
WILD = "..."

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
                   re.MULTILINE | re.DOTALL)
DIRECTIVE = re.compile(r"<!--\s*(?P<name>file|covered-by|tolerance):\s*(?P<value>.*?)\s*-->")
SHELLS = {"bash", "sh", "shell", "console"}
PROMPT = "$ "


# Commands that run until stopped: a page must mark their block `covered-by` (run here, they would hang the test).
UNTIL_STOPPED = re.compile(r"(?:^|[\s/])(?:eagergraph\s+(?:serve\b|score\b.*--(?:cron|interval|rrule)\b"
                           r"|server\s*$|server\s+start\b(?!.*--background))|prefect\s+(?:server|worker)\s+start\b)")


def runs_until_stopped(command: str) -> bool:
    """Whether a command line serves, or starts a server or worker in the foreground (it would never end)."""
    return bool(UNTIL_STOPPED.search(command.split(" #")[0].strip()))


@dataclass
class Command:
    line: int  # the 1-based line of the page the command is on
    text: str  # continuation lines joined
    shown: list[str] = field(default_factory=list)  # the output the page shows after it (transcripts)


@dataclass
class Block:
    kind: str  # "transcript", "commands", "python", "file", "covered", "illustration"
    start: int  # character offsets of the whole fence in the page
    end: int
    line: int  # the 1-based line of the opening fence
    info: str
    body: str
    directives: dict[str, str] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)

    @property
    def covered_by(self) -> list[str]:
        return [name.strip() for name in self.directives.get("covered-by", "").split(",") if name.strip()]

    @property
    def tolerance(self) -> float:
        return float(self.directives.get("tolerance", TOLERANCE))


def _directives_before(text: str, start: int) -> dict[str, str]:
    """The `<!-- name: value -->` comments on the lines right before a fence (blank lines between allowed)."""
    found: dict[str, str] = {}
    lines = text[:start].splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and lines[-1].strip().startswith("<!--"):
        for directive in DIRECTIVE.finditer(lines.pop()):
            found[directive["name"]] = directive["value"]
        while lines and not lines[-1].strip():
            lines.pop()
    return found


def _logical_lines(body: str, first_line: int) -> list[tuple[int, str]]:
    """The body's lines with `\\` continuations joined, each with its 1-based page line."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for offset, raw in enumerate(body.splitlines()):
        if pending is not None:
            line, text = pending[0], pending[1] + " " + raw.strip()
        else:
            line, text = first_line + offset, raw
        if text.rstrip().endswith("\\"):
            pending = (line, text.rstrip()[:-1].rstrip())
            continue
        pending = None
        joined.append((line, text))
    if pending is not None:
        joined.append(pending)
    return joined


def blocks(text: str) -> list[Block]:
    """Every fenced block of a page, classified (see the module's docstring), in page order."""
    found = []
    for fence in FENCE.finditer(text):
        line = text.count("\n", 0, fence.start()) + 1
        info = fence["info"].strip().split()[0].lower() if fence["info"].strip() else ""
        body = fence["body"]
        indent = len(fence["indent"])
        body = "\n".join(raw[indent:] if not raw[:indent].strip() else raw.lstrip() for raw in body.splitlines())
        directives = _directives_before(text, fence.start())
        block = Block("illustration", fence.start(), fence.end(), line, info, body, directives)
        body_lines = _logical_lines(body, line + 1)
        if "covered-by" in directives:
            block.kind = "covered"
        elif "file" in directives:
            block.kind = "file"
        elif body.lstrip().startswith(PROMPT) or body.lstrip() == "$":
            block.kind = "transcript"
            for number, raw in body_lines:
                if raw.startswith(PROMPT):
                    block.commands.append(Command(number, raw[len(PROMPT):].strip()))
                else:
                    block.commands[-1].shown.append(raw)
        elif info in SHELLS:
            block.kind = "commands"
            block.commands = [Command(number, raw.strip()) for number, raw in body_lines
                              if raw.strip() and not raw.strip().startswith("#")]
        elif info == "python":
            block.kind = "python"
        found.append(block)
    return found


# ---------------------------------------------------------------- masking and matching

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile(r"[\u2500-\u257f]")
PREFECT_LOG = re.compile(r"^\s*(<time>|\d{2}:\d{2}:\d{2}(\.\d+)?) \| (DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*\|")
ELISION = re.compile(r"^\s*(\.\.\.|\(.*left out\))\s*$")
NUMBER = r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
MASKS = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d{8}T\d{6,}Z-[0-9a-f]{6}\b"), "<run-id>"),  # eagergraph's run directory names
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{8}T\d{4,6}\b"), "<time>"),  # flow-run names: synthetic-20261130T0655
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<time>"),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(127\.0\.0\.1|localhost|0\.0\.0\.0):\d+\b"), r"\1:<port>"),
    (re.compile(NUMBER + r"\s?(?:ms|s|seconds?|min|minutes?)\b"), "<duration>"),
    (re.compile(NUMBER + r"x\b"), "<speedup>"),
    (re.compile(NUMBER + r"\s?(?:[KMGT]i?B)\b"), "<size>"),
]
TIMING_LINE = re.compile(r"\w+_(?:seconds|ms)\b")
TOKEN = re.compile(r"<[a-z-]+>|\.\.\.|" + NUMBER + r"|\w+|\S")


def mask(line: str, home: str | None = None) -> str:
    """A line with what varies from run to run replaced by a placeholder (see the module's docstring)."""
    line = ANSI.sub("", line)
    if home:
        line = line.replace(home, SHOWN_HOME)
    for pattern, placeholder in MASKS:
        line = pattern.sub(placeholder, line)
    if TIMING_LINE.search(line):
        line = re.sub(NUMBER, "<duration>", line)
    return line


def comparable_lines(text: str, home: str | None = None) -> list[str]:
    """The masked lines of an output that take part in the comparison (Prefect's log and UI lines dropped)."""
    kept = []
    for line in text.splitlines():
        line = mask(line, home)
        if PREFECT_LOG.match(line) or line.strip().startswith("Prefect UI:"):
            continue
        kept.append(WILD if ELISION.match(line) else line)
    return kept


def tokens(lines: list[str]) -> list[str]:
    return [token for line in lines for token in TOKEN.findall(BOX.sub(" ", line))]


def _is_number(token: str) -> bool:
    return re.fullmatch(NUMBER, token) is not None


def _same(shown: str, printed: str, tolerance: float) -> bool:
    if shown == printed:
        return True
    if _is_number(shown) and _is_number(printed):
        if any(c in shown for c in ".eE") or any(c in printed for c in ".eE"):
            return abs(float(shown) - float(printed)) <= tolerance + 1e-12
    return False


def _glob(shown: list[str], printed: list[str], tolerance: float) -> int | None:
    """Match the shown tokens (WILD: any run of tokens) against the printed ones; None when they match, else the
    index of the first shown token that could not be matched (the furthest the match got)."""
    s = p = 0
    star_s, star_p = -1, 0
    furthest = 0
    while p < len(printed):
        if s < len(shown) and shown[s] == WILD:
            star_s, star_p = s, p
            s += 1
        elif s < len(shown) and _same(shown[s], printed[p], tolerance):
            s += 1
            p += 1
            furthest = max(furthest, s)
        elif star_s >= 0:
            star_p += 1
            s, p = star_s + 1, star_p
        else:
            return max(furthest, s)
    while s < len(shown) and shown[s] == WILD:
        s += 1
    return None if s == len(shown) else max(furthest, s)


def match(shown: list[str], printed: str, home: str | None = None, tolerance: float = TOLERANCE) -> str | None:
    """None when the printed output matches the shown lines; otherwise what differs, for the test's failure."""
    expected = comparable_lines("\n".join(shown))
    actual = comparable_lines(printed, home)
    stuck = _glob(tokens(expected), tokens(actual), tolerance)
    if stuck is None:
        return None
    shown_tokens = tokens(expected)
    near = " ".join(shown_tokens[max(0, stuck - 8):stuck + 8])
    diff = "\n".join(difflib.unified_diff(expected, actual, "shown (masked)", "printed (masked)", lineterm="", n=2))
    return f"the output differs from the page from shown token {stuck} (near: {near!r}):\n{diff}"


def expected_status(shown: list[str]) -> int:
    """The exit status a transcript's command must end with: 2 where it shows eagergraph's error line, else 0."""
    return 2 if any(line.startswith("eagergraph: error:") for line in shown) else 0


# ---------------------------------------------------------------- covered-by names


def names_a_test(name: str, root: Path) -> bool:
    """Whether `tests/x/test_y.py::test_z` (or `…::TestClass::test_z`) names a test function of the project."""
    path, _, qualified = name.partition("::")
    file = root / path
    if not qualified or not file.is_file():
        return False
    tree = ast.parse(file.read_text(encoding="utf-8"))
    scope: list[ast.stmt] = tree.body
    *classes, function = qualified.split("::")
    for cls in classes:
        found = [node for node in scope if isinstance(node, ast.ClassDef) and node.name == cls]
        if not found:
            return False
        scope = found[0].body
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function for node in scope)
