"""docs/troubleshooting.md's error table against the real command: each case below makes a real `eagergraph`
command fail, and its error line must be one the table quotes (FILE, PATH, OUT, URL, ARTIFACTS and N stand for
any text there, `...` for anything). A table row no case produces is named in NOT_PRODUCED_HERE with the test
that produces it, so a stale row cannot hide."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from docs.cli_in_process import run_eagergraph
from transcripts import names_a_test

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"
PREFIX = "eagergraph: error: "
PLACEHOLDER = re.compile(r"\b(?:FILE\.toml|FILE|PATH|OUT|URL|ARTIFACTS|N)\b|\.\.\.")


def quoted_messages() -> list[str]:
    """Every message the table quotes in its first column (a cell may quote several, split by ` / `)."""
    section = PAGE.read_text(encoding="utf-8").split("## Error messages and what to do", 1)[1].split("\n#", 1)[0]
    cells = [line.split(" | ")[0][2:] for line in section.splitlines() if line.startswith("| `")]
    quotes = [a or b for cell in cells for a, b in re.findall(r"``(.+?)``|`([^`]+)`", cell)]
    return [quote for quote in quotes if ": " in quote or "; " in quote]  # not the options and commands named beside them


def pattern(message: str) -> re.Pattern:
    parts, last = [], 0
    for placeholder in PLACEHOLDER.finditer(message):
        parts += [re.escape(message[last:placeholder.start()]), ".*" if placeholder[0] == "..." else ".+?"]
        last = placeholder.end()
    return re.compile("".join([*parts, re.escape(message[last:])]).replace(r"\|", "|"))


def table_row_for(line: str) -> str | None:
    for message in quoted_messages():
        if pattern(message).fullmatch(line):
            return message
    return None


T = "tests/cli/test_bad_input.py::test_bad_input_gives_one_line_and_status_2"
NOT_PRODUCED_HERE = {  # quoted by the table, made by a run with a trained model or a server state: the test that does
    "ARTIFACTS: 2 production models (a, b); name one with --model-name": "tests/cli/test_models.py::test_rollback_and_promote_act_on_one_model",
    "FILE: too few rows for the split: the validation split has 9 rows of class 0 and 0 of class 1 (60 rows in all); ...": None,
    "...; fix them or pass --drop-invalid": "tests/unit/test_data_choices.py::test_ingest_drops_missing_labels_encodes_the_positive_class_and_passes_columns_through",
    "--row: 3 values given, the model takes 7 features in this order: ...": T,
    "--row: 'male' is not a number: field 2 (Age)": "tests/cli/test_own_data.py::test_predict_input_keeps_or_skips_rows_with_gaps",
    "--row-json: unknown feature(s) 'age'; ...": "tests/cli/test_predict_raw.py::test_an_unknown_feature_and_a_model_without_its_facts_are_one_line_each",
    "--row: field 4 (SibSp) is empty; ...; the model does not impute SibSp": "tests/cli/test_predict_raw.py::test_input_file_with_blank_cells_and_text_columns",
    "PATH: not a loadable SavedModel (...)": T,
    "PATH: no assets.extra/eagergraph.json; was this SavedModel exported by eagergraph?": "tests/cli/test_predict_raw.py::test_an_unknown_feature_and_a_model_without_its_facts_are_one_line_each",
    "FILE: missing the model's feature column(s): x0, x1": T,
    "OUT: unsupported output type '.txt'; use .parquet or .csv": T,
    "OUT: the folder ... does not exist": T,
    "OUT: is the input file": T,
    "the Prefect server at URL refused the request (401): set PREFECT_API_AUTH_STRING ...": "tests/cli/test_security.py::test_server_with_auth_refuses_anonymous_and_serves_authenticated_runs",
    "the local Prefect server on port N did not start within 120s (its log: ...)": None,
    "RuntimeError: Timed out while attempting to connect to ephemeral Prefect API server": None,  # Prefect's own
    "interrupted by SIGINT; unfinished output was discarded, earlier runs are untouched": "tests/cli/test_faults.py::test_interrupt_during_training_exits_cleanly",
    "cannot reach the Prefect server at URL (...); start the local one with `eagergraph server start --background`, ...":
        "tests/docs/test_troubleshooting.py::test_an_unreachable_server_is_the_line_the_table_quotes",
}  # None: no test makes it (a server that does not start, Prefect's own time-out, a split short of a class)
LABEL_Y = "a,b,y\n" + "".join(f"{i},{i % 7},{'u' if i % 2 else 'v'}\n" for i in range(60))
THREE = "a,y\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(60))
CASES = {  # name: (the command's arguments, the files it needs)
    "no file": (["run", "--data", "nope.csv"], {}),
    "empty": (["run", "--data", "empty.csv"], {"empty.csv": ""}),
    "header only": (["run", "--data", "h.csv", "--label", "y"], {"h.csv": "a,y\n"}),
    "xlsx": (["run", "--data", "t.xlsx"], {"t.xlsx": "x"}),
    "not parquet": (["run", "--data", "t.parquet", "--label", "y"], {"t.parquet": "not parquet at all"}),
    "oops": (["run", "--data", "t.csv", "--label", "y"], {"t.csv": "a,y\n" + "1,0\n" * 30 + "oops,1\n" + "2,1\n" * 30}),
    "duplicate": (["run", "--data", "t.csv", "--label", "y"], {"t.csv": "a,a,y\n1,2,0\n3,4,1\n"}),
    "no label": (["run", "--data", "t.csv", "--label", "y"], {"t.csv": "a,b\n1,2\n3,4\n"}),
    "one class": (["run", "--data", "t.csv", "--label", "y"], {"t.csv": "a,y\n" + "1,a\n" * 30}),
    "binary of three": (["run", "--data", "t.csv", "--label", "y", "--task", "binary"], {"t.csv": THREE}),
    "regression of text": (["run", "--data", "t.csv", "--label", "y", "--task", "regression"], {"t.csv": THREE}),
    "positive multiclass": (["run", "--data", "t.csv", "--label", "y", "--positive-class", "a"], {"t.csv": THREE}),
    "many classes": (["run", "--data", "t.csv", "--label", "y"],
                     {"t.csv": "a,y\n" + "".join(f"{i},{chr(97 + i) if i < 26 else f'z{i}'}\n" for i in range(120))}),
    "class of one row": (["run", "--data", "t.csv", "--label", "y"],
                         {"t.csv": "a,y\n" + "".join(f"{i},{'a' if i % 2 else 'c'}\n" for i in range(59)) + "59,b\n"}),
    "categorical values": (["run", "--data", "t.csv", "--label", "y", "--categorical", "zip"],
                           {"t.csv": "zip,a,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(900))}),
    "categorical floats": (["run", "--data", "t.csv", "--label", "y", "--categorical", "fare"],
                           {"t.csv": "fare,y\n" + "".join(f"{i}.5,{i % 2}\n" for i in range(60))}),
    "missing values": (["run", "--data", "benchmarks/data/titanic.csv", "--label", "Survived"], {}),
    "gate metric": (["run", "--gate-metric", "rmse"], {}),
    "floor": (["run", "--min-r2", "0.5"], {}),
    "model name": (["run", "--model-name", "a/b"], {}),
    "features": (["run", "--data", "benchmarks/data/titanic.csv", "--label", "Survived", "--features", "Name"], {}),
    "categorical unknown": (["run", "--data", "t.csv", "--label", "y", "--categorical", "x"], {"t.csv": LABEL_Y}),
    "impute": (["run", "--impute", "mode"], {}),
    "exclude unknown": (["run", "--data", "t.csv", "--label", "y", "--exclude", "x"], {"t.csv": LABEL_Y}),
    "positive unknown": (["run", "--data", "t.csv", "--label", "y", "--positive-class", "x"], {"t.csv": LABEL_Y}),
    "no features": (["run", "--data", "t.csv", "--label", "y", "--exclude", "a,b"], {"t.csv": LABEL_Y}),
    "fractions": (["run", "--test-fraction", "0.5", "--validation-fraction", "0.5"], {}),
    "id column": (["run", "--data", "t.csv", "--label", "y", "--id-column", "x"], {"t.csv": LABEL_Y}),
    "not an id": (["run", "--data", "t.csv", "--label", "y", "--id-column", "x"], {"t.csv": LABEL_Y.replace("a,b,y", "a,x,y")}),
    "epochs": (["run", "--epochs", "0"], {}),
    "toml key": (["run", "--config", "my.toml"], {"my.toml": "epoch = 3\n"}),
    "toml value": (["run", "--config", "my.toml"], {"my.toml": "batch_size = 0\n"}),
    "toml syntax": (["run", "--config", "my.toml"], {"my.toml": "epochs = \n"}),
    "no option": (["run", "--epoch", "3"], {}),
    "not a number": (["run", "--epochs", "ten"], {}),
    "artifacts": (["run", "--artifacts", "a-file"], {"a-file": "x"}),
    "no model": (["predict", "nowhere", "--row", "1"], {}),
    "not a model": (["predict", "folder", "--row", "1"], {"folder/notes.txt": "x"}),
}


def test_each_error_line_is_quoted_by_the_troubleshooting_table(tmp_path: Path, prefect_api: str) -> None:
    """Every case's error line is quoted by the table, and every quoted line is produced here or named below."""
    quoted: set[str] = set()
    wrong = []
    for name, (args, files) in CASES.items():
        folder = tmp_path / name.replace(" ", "-")
        (folder / "benchmarks" / "data").mkdir(parents=True)
        (folder / "benchmarks" / "data" / "titanic.csv").write_bytes((ROOT / "benchmarks/data/titanic.csv").read_bytes())
        for file, text in files.items():
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            (folder / file).write_text(text)
        code, printed = run_eagergraph(args, folder)
        errors = [line[len(PREFIX):] for line in printed.splitlines() if line.startswith(PREFIX)]
        row = table_row_for(errors[0]) if code == 2 and len(errors) == 1 else None
        if row is None:
            wrong.append(f"{name}: exit status {code}, no row of the table quotes: {errors or printed[-2000:]}")
        quoted.add(row)
    assert not wrong, "\n".join(wrong)
    stale = [message for message in NOT_PRODUCED_HERE if message not in quoted_messages()]
    assert not stale, f"NOT_PRODUCED_HERE names lines the table no longer quotes: {stale}"
    assert all(names_a_test(name, ROOT) for name in NOT_PRODUCED_HERE.values() if name)
    unproduced = set(quoted_messages()) - quoted - set(NOT_PRODUCED_HERE)
    assert not unproduced, f"quoted by the table, produced by no case here nor named in NOT_PRODUCED_HERE: {unproduced}"


def test_an_unreachable_server_is_the_line_the_table_quotes(tmp_path: Path) -> None:
    """A subprocess: the server a run uses is chosen once per process."""
    done = subprocess.run([str(Path(sys.executable).with_name("eagergraph")), "run", "--rows", "100", "--epochs", "1"],
                          cwd=tmp_path, env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(PREFIX) and table_row_for(line[len(PREFIX):]), line
