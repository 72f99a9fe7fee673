"""The documentation against the code: every `eagergraph …` command line the pages show is accepted by the real
command's parser, and every relative link in them resolves.

Commands are parsed, never run: the real click command (from the typer app) builds its context for each line, so an
unknown command or option, a missing value or a value of the wrong type fails here exactly as it would for a user.
"""

from __future__ import annotations

import functools
import re
import shlex
import unicodedata
from pathlib import Path

import pytest
import typer

from eagergraph.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "benchmarks" / "README.md", *(ROOT / "docs").glob("*.md")])

FENCE = re.compile(r"^(\s*)(```|~~~)")
INLINE = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"^(?:\$\s+)?(?:\S*/)?eagergraph(?=\s)\s*(.*)$")  # `eagergraph …`, `$ eagergraph …`, `.venv/bin/eagergraph …`
SHELL_END = ("#", "|", ">", "2>", ">>", "&&", "||", ";", "&")  # the command line ends at a comment, pipe or redirection
ELLIPSIS = ("...", "…")  # "and so on" in prose: not an argument
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_REF = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _blocks_and_prose(text: str) -> tuple[list[str], list[str]]:
    """Lines inside fenced code blocks (continuations joined), and lines outside them."""
    code, prose, fence = [], [], None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(2)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is not None:
            if code and code[-1].endswith("\\"):
                code[-1] = code[-1][:-1].rstrip() + " " + line.strip()
            else:
                code.append(line.strip())
        else:
            prose.append(line)
    return code, prose


def command_lines(text: str) -> list[str]:
    """Every `eagergraph …` command line of a page, from its code blocks and its inline code."""
    code, prose = _blocks_and_prose(text)
    spans = [span.strip() for line in prose for span in INLINE.findall(line)]
    # `eagergraph` with nothing after it but an ellipsis is the command named in prose, not a command line.
    return [line for line in code + spans if COMMAND.match(line) and arguments(line)]


def arguments(line: str) -> list[str]:
    """The arguments after `eagergraph`, up to a shell comment, pipe or redirection; prose ellipses dropped."""
    rest = COMMAND.match(line).group(1)
    lexer = shlex.shlex(rest, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = []
    for token in lexer:
        if token in SHELL_END or token.startswith(("|", ">", "2>", "&", ";")):
            break
        if token not in ELLIPSIS:
            tokens.append(token)
    return tokens


@functools.cache
def eagergraph_command() -> object:
    """The real click command behind `eagergraph`, built once (building it is most of a parse's cost)."""
    return typer.main.get_command(app)


def parse(args: list[str]) -> str:
    """Let the real command parse `args` down to the subcommand, without running anything; the command path parsed.

    A `--help` ends the parse as it ends the command: click prints the help and exits with status 0 there.
    """
    command, name, parent = eagergraph_command(), "eagergraph", None
    path = [name]
    while True:
        try:
            context = command.make_context(name, list(args), parent=parent, resilient_parsing=False)
        except Exception as stop:
            if "--help" in args and getattr(stop, "exit_code", None) == 0:  # click's Exit(0) after printing the help
                return " ".join(path)
            raise
        if not hasattr(command, "resolve_command"):  # a leaf command: its options and arguments all parsed
            return " ".join(path)
        # A group keeps what follows its own options for its subcommand (as click's Group.invoke reads it).
        rest = [*context._protected_args, *context.args]
        if not rest:
            return " ".join(path)
        name, command, args = command.resolve_command(context, rest)
        parent = context
        path.append(name)


def _documented_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for line in command_lines(page.read_text(encoding="utf-8")):
            found.append((page.relative_to(ROOT).as_posix(), line))
    return found


DOCUMENTED = _documented_commands()


def test_the_pages_show_commands() -> None:
    """The extraction finds the commands the pages are built around (so the parse test below cannot pass empty)."""
    shown = {" ".join(arguments(line)[:1]) for _, line in DOCUMENTED}
    assert {"run", "predict", "server", "serve", "sweep", "runs", "gc", "promote", "rollback", "bench"} <= shown, shown


def test_every_documented_command_parses() -> None:
    """Each command line of README.md, docs/ and benchmarks/README.md parses; all the stale ones named at once."""
    stale = []
    for page, line in DOCUMENTED:
        try:
            parse(arguments(line))
        except Exception as error:  # noqa: BLE001  (click's usage errors, whichever click typer brings)
            message = error.format_message() if hasattr(error, "format_message") else f"{type(error).__name__}: {error}"
            stale.append(f"{page}: `{line}`: {message.splitlines()[0] if message else type(error).__name__}")
    assert not stale, "commands the eagergraph command does not accept:\n" + "\n".join(stale)


def test_an_unknown_option_or_command_is_caught() -> None:
    """The parser used above refuses what a user's shell would refuse, so a stale page fails the test."""
    assert parse(arguments("eagergraph run --data data/customers.csv --label churned --epochs 10")) == "eagergraph run"
    assert parse(arguments("eagergraph server status")) == "eagergraph server status"
    assert parse(arguments("eagergraph gc --help")) == "eagergraph gc"  # its required --keep not needed for the help
    for wrong in ("eagergraph run --epoch 10", "eagergraph run --epochs ten", "eagergraph trian",
                  "eagergraph server restart", "eagergraph predict", "eagergraph gc --keep 2 --help-me"):
        with pytest.raises(Exception) as caught:  # noqa: PT011  (click's exception classes vary with typer)
            parse(arguments(wrong))
        assert hasattr(caught.value, "format_message"), (wrong, caught.value)


def test_arguments_stop_at_comments_pipes_and_ellipses() -> None:
    assert arguments("$ eagergraph run --json | tail -1") == ["run", "--json"]
    assert arguments("eagergraph gc --keep 5   # remove all but the 5 newest") == ["gc", "--keep", "5"]
    assert arguments(".venv/bin/eagergraph --debug run ...") == ["--debug", "run"]
    assert arguments('eagergraph serve --cron "0 6 * * *"') == ["serve", "--cron", "0 6 * * *"]
    assert command_lines("a `eagergraph runs --json` b\n```\neagergraph gc \\\n  --keep 2\n```\n") == [
        "eagergraph gc --keep 2", "eagergraph runs --json"]
    assert command_lines("the `eagergraph` package, `eagergraph/core/`, eagergraph: error: x") == []


# ---------------------------------------------------------------- links


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors by its text
    text = text.lower().replace("`", "")
    text = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page (repeated headings numbered as GitHub numbers them)."""
    _, prose = _blocks_and_prose(page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    names = set()
    for line in prose:
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            names.add(base if count == 0 else f"{base}-{count}")
    return names


def relative_links(page: Path) -> list[str]:
    _, prose = _blocks_and_prose(page.read_text(encoding="utf-8"))
    text = "\n".join(re.sub(r"`[^`\n]*`", "", line) for line in prose)  # links inside inline code are not links
    targets = LINK.findall(text) + HTML_REF.findall(text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]  # http:, mailto:, data:


LINKS = [(page, target) for page in PAGES for target in relative_links(page)]


def test_the_pages_link_to_each_other() -> None:
    assert any(target.startswith("docs/") for page, target in LINKS if page.name == "README.md" and page.parent == ROOT)


def test_every_relative_link_resolves() -> None:
    """Each relative link and image of the pages points at a file of the project (and at a heading, for #anchors)."""
    broken = []
    for page, target in LINKS:
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(ROOT).as_posix()}: link {target!r}"
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{where} leaves the project")
        elif not resolved.exists():
            broken.append(f"{where}: {resolved.relative_to(ROOT)} does not exist")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{where}: no heading with anchor #{fragment} in {resolved.relative_to(ROOT)}")
    assert not broken, "broken links:\n" + "\n".join(broken)
