"""The executed docs' rules (tests/transcripts.py) and their coverage: every page is run by tests/docs, and every
`covered-by` directive names a test that exists. The examples themselves run in tests/docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcripts import blocks, expected_status, mask, match, names_a_test, runs_until_stopped

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "benchmarks" / "README.md", *(ROOT / "docs").glob("*.md")])
LINKS = ROOT / "tests" / "docs" / "pages"


def test_every_page_is_executed_by_the_docs_tier() -> None:
    linked = {link.resolve() for link in LINKS.glob("*.md")}
    missing = [page.relative_to(ROOT).as_posix() for page in PAGES if page.resolve() not in linked]
    assert not missing, f"pages without a link in tests/docs/pages: {missing}"
    assert all(link.is_symlink() and link.resolve().is_file() for link in LINKS.glob("*.md"))


def test_every_covered_by_names_an_existing_test() -> None:
    named = [(page.relative_to(ROOT).as_posix(), block.line, name)
             for page in PAGES for block in blocks(page.read_text(encoding="utf-8")) for name in block.covered_by]
    assert named, "no covered-by directive found: the check below would pass empty"
    missing = [f"{page}:{line}: {name}" for page, line, name in named if not names_a_test(name, ROOT)]
    assert not missing, "covered-by names no existing test:\n" + "\n".join(missing)


def test_names_a_test_finds_functions_and_methods_only() -> None:
    assert names_a_test("tests/unit/test_docs_harness.py::test_names_a_test_finds_functions_and_methods_only", ROOT)
    assert not names_a_test("tests/unit/test_docs_harness.py::test_no_such_thing", ROOT)
    assert not names_a_test("tests/unit/no_such_file.py::test_x", ROOT)
    assert not names_a_test("tests/unit/test_docs_harness.py", ROOT)


PAGE = """Intro.

```
ingest → normalize
```

<!-- covered-by: tests/a.py::test_a, tests/b.py::test_b -->
```bash
eagergraph serve --cron "0 6 * * *"
```

```bash
# a comment
eagergraph run --data data/customers.csv \\
  --label churned   # trailing comment
head -3 data/customers.csv > small.csv
```

<!-- tolerance: 0.2 -->
```
$ eagergraph runs
run  model
...
$ eagergraph gc --keep x
eagergraph: error: --keep: not a number
```

<!-- file: my-run.toml -->
```toml
epochs = 3
```

```python
print(1)
```
"""


def test_blocks_are_classified_in_page_order() -> None:
    found = blocks(PAGE)
    assert [b.kind for b in found] == ["illustration", "covered", "commands", "transcript", "file", "python"]
    assert found[1].covered_by == ["tests/a.py::test_a", "tests/b.py::test_b"]
    assert [c.text for c in found[2].commands] == [
        "eagergraph run --data data/customers.csv --label churned   # trailing comment",
        "head -3 data/customers.csv > small.csv"]
    transcript = found[3]
    assert transcript.tolerance == 0.2
    assert [(c.text, c.shown) for c in transcript.commands] == [
        ("eagergraph runs", ["run  model", "..."]), ("eagergraph gc --keep x", ["eagergraph: error: --keep: not a number"])]
    assert [expected_status(c.shown) for c in transcript.commands] == [0, 2]
    assert transcript.line == PAGE.splitlines().index("$ eagergraph runs")  # the fence's line, 1-based
    assert found[4].directives["file"] == "my-run.toml" and found[4].body.strip() == "epochs = 3"


def test_what_varies_is_masked() -> None:
    line = ("12:01:02.345 run 20261130T065549563766Z-fa230b flow 42608a9c-0aa5-4a97-a60b-42a390b146ce at "
            "http://127.0.0.1:4211/api took 4.0 s (12 ms a step), 6.6x faster, peak 1.2 GB, in /tmp/x/artifacts")
    assert mask(line, home="/tmp/x") == ("<time> run <run-id> flow <uuid> at http://127.0.0.1:<port>/api took <duration> "
                                         "(<duration> a step), <speedup> faster, peak <size>, in /home/you/eagergraph/artifacts")
    assert mask("│ train_seconds  │  4.0083 │  0.6058 │") == "│ train_seconds  │  <duration> │  <duration> │"
    assert mask("features (10): x0, x1; 1000 rows") == "features (10): x0, x1; 1000 rows"


TABLE = """\
┏━━━━━━━━┳━━━━━━━┓
┃ metric ┃ eager ┃
┡━━━━━━━━╇━━━━━━━┩
│ AUC    │ 0.9866 │
└────────┴───────┘
speedup: 6.6x; steady state
54.9x"""


def test_output_matches_across_wrapping_widths_tolerance_and_prefect_lines() -> None:
    printed = ("Prefect UI: http://127.0.0.1:4300 (local server, reused)\n"
               "10:00:00.000 | INFO    | Flow run 'x' - Beginning flow run\n"
               "┏━━━━━━━━━━━━━━┳━━━━━━━━━━━┓\n┃ metric       ┃     eager ┃\n┡━━━━━━━━━━━━━━╇━━━━━━━━━━━┩\n"
               "│ AUC          │    0.9801 │\n└──────────────┴───────────┘\nspeedup: 12.0x; steady state 80.1x\n")
    assert match(TABLE.splitlines(), printed) is None
    assert match(TABLE.splitlines(), printed.replace("0.9801", "0.9201")) is not None  # beyond 0.05
    assert match(TABLE.splitlines(), printed.replace("0.9801", "0.9201"), tolerance=0.1) is None
    assert match(TABLE.splitlines(), printed.replace("AUC", "R²")) is not None


def test_elisions_match_anything_and_integers_must_be_equal() -> None:
    shown = ["ingested 1000 rows", "(Prefect's log lines left out)", "gate: promoted: ...", "done"]
    assert match(shown, "ingested 1000 rows\nepoch 1\nepoch 2\ngate: promoted: first run; auc 0.98\ndone\n") is None
    assert match(shown, "ingested 1000 rows\ngate: promoted: \ndone\n") is None  # `...` also matches nothing
    assert match(shown, "ingested 999 rows\ngate: promoted: x\ndone\n") is not None
    assert match(shown, "ingested 1000 rows\ngate: promoted: x\n") is not None  # a shown line missing
    assert match(["done"], "done\nand more\n") is not None  # an extra printed line without `...`


@pytest.mark.parametrize("shown", [["a 0.50"], ["a 5.0e-01"]])
def test_decimals_and_exponents_compare_as_numbers(shown: list[str]) -> None:
    assert match(shown, "a 0.52") is None
    assert match(shown, "a 0.56") is not None


def test_a_python_block_keeps_its_indentation_and_an_indented_fence_loses_its_own() -> None:
    page = "```python\nfor x in [1]:\n    print(x)\n```\n\n- item:\n\n  ```python\n  if True:\n      print(2)\n  ```\n"
    assert [block.body for block in blocks(page)] == ["for x in [1]:\n    print(x)", "if True:\n    print(2)"]


@pytest.mark.parametrize("command, forever", [
    ('eagergraph serve --cron "0 6 * * *" --data d.csv --label y', True),
    ("eagergraph serve --scoring schedule.toml", True),
    ("eagergraph score --model-name t --input in --cron '0 6 * * *'", True),
    ("eagergraph score --model-name t --input in --interval 60", True),
    ("eagergraph server", True),
    ("eagergraph server start", True),
    ("prefect worker start --pool eagergraph-process", True),
    ("prefect server start", True),
    ("eagergraph server start --background", False),
    ("eagergraph score --model-name t --input in", False),
    ("eagergraph server stop", False),
    ("eagergraph run --data d.csv --label y  # serve it later", False),
])
def test_a_command_that_runs_until_stopped_is_recognised(command: str, forever: bool) -> None:
    assert runs_until_stopped(command) is forever
