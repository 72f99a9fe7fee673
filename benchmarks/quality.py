"""Quality benchmark: eagergraph's graph model beside scikit-learn on exactly the same split of public tables.

    pip install -e '.[bench]'
    python benchmarks/quality.py                      # every table at eagergraph's defaults (early stopping)
    python benchmarks/quality.py --tables credit --epochs 50 --json quality.json
    python benchmarks/quality.py --epochs 5,10,20,40      # per table, the fewest of these that meets the target
    python benchmarks/quality.py --tables passengers --eagergraph-options=--drop-invalid   # instead of its own

For each table, eagergraph runs through its real command line on the whole table (a row-id column added, so
its split can be read back): `eagergraph run --data T --label L --seed S --modes graph --json` (`--epochs N` when given). Its
test rows are read back from `<run_dir>/normalized/test_raw.parquet` and its train rows from `raw.parquet`, so
scikit-learn trains on eagergraph's train and validation rows (eagergraph stops early on the validation rows and
trains on the rest) and tests on the very test rows eagergraph did; its test metric comes from `<run_dir>/metrics.json`.
When eagergraph cannot run a table (yet), the table still gets scikit-learn's figures on the script's own seeded
stratified 80/20 split, and the eagergraph column says "eagergraph failed: <its one-line error>".

scikit-learn sees the same columns as the issue's column rules give eagergraph: numbers (blank, whitespace-only
and missing-token cells are missing values) → median imputation + standardization; text, boolean and named
integer columns with at most 50 distinct training values → one-hot (unknown values ignored); row ids, empty
columns and text with more distinct values left out. Models: LogisticRegression and HistGradientBoosting
(classifier or regressor) on those features; Ridge for regression.

Targets (issues 16 and 17): binary AUC within 0.01 of the one-hot logistic regression; multiclass accuracy
within 0.02 of it; regression R² within 0.03 of Ridge. `--modes graph` does not change the graph model (same
initial weights, same batches; eager mode only adds the comparison), it only saves the eager run's time.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from eagergraph.bench.command import eagergraph_command

DATA_DIR = Path(__file__).resolve().parent / "data"
ROW_ID = "bench_row_id"  # added to every table so eagergraph's split can be read back; unique integers: an id
MISSING_TOKENS = ("", "NA", "N/A", "?", "-", "null", "NULL", "NaN", "nan")  # after trimming whitespace
MAX_CATEGORIES = 50  # the default cap on distinct values of a categorical column
TEST_FRACTION = 0.2
TARGETS = {"binary": ("auc", 0.01), "multiclass": ("accuracy", 0.02), "regression": ("r2", 0.03)}


@dataclass(frozen=True)
class Table:
    """One public table: its file (under the data folder), label, task, and the options eagergraph needs."""

    name: str
    file: str
    label: str
    task: str
    epochs: int | None = None  # --epochs for this table; None: eagergraph's default (a maximum: early stopping)
    options: tuple[str, ...] = ()  # eagergraph options beyond the defaults, each one the table's data asks for
    categorical: tuple[str, ...] = ()  # integer columns named as categorical (both sides one-hot them)


TABLES = {t.name: t for t in (
    Table("census", "adult.csv", "Income", "binary"),
    Table("passengers", "titanic.csv", "Survived", "binary", None, ("--impute", "median")),
    Table("churn", "telco-churn.csv", "Churn", "binary", None, ("--impute", "median")),
    Table("credit", "credit_german.csv", "class", "binary"),
    Table("health-plan", "cdc.csv", "hlthplan", "binary"),  # imbalanced: 12 % have no health plan
    Table("penguins", "penguins.csv", "species", "multiclass", None, ("--impute", "median", "--task", "multiclass")),
    Table("cars", "auto-mpg.csv", "mpg", "regression", None,
          ("--impute", "median", "--task", "regression", "--categorical", "origin"), ("origin",)),
    Table("diamonds", "diamonds.csv", "price", "regression", None, ("--task", "regression")),
)}


# ---------------------------------------------------------------- reading a table as the column rules see it


def read_raw(path: Path) -> pa.Table:
    """Every column as text (CSV) or as stored (Parquet), nothing dropped; empty CSV lines are skipped."""
    if path.suffix == ".parquet":
        return pq.read_table(path)
    names = pacsv.open_csv(path).schema.names
    convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in names}, strings_can_be_null=False,
                                   quoted_strings_can_be_null=False)
    return pacsv.read_csv(path, convert_options=convert)


def clean_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whitespace trimmed; blank and missing-token cells become missing values."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.is_in(trimmed, pa.array(MISSING_TOKENS)), pa.scalar(None, pa.string()), trimmed)


def as_number(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column as float64 when every present cell is a number (missing cells stay missing), else None."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return pc.cast(column, pa.float64())
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return None
    try:
        return pc.cast(clean_text(column), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def tidy(raw: pa.Table) -> pa.Table:
    """Numbers as float64 with missing values, everything else as trimmed text with missing values."""
    columns = {}
    for name in raw.column_names:
        number = as_number(raw.column(name))
        columns[name] = number if number is not None else clean_text(pc.cast(raw.column(name), pa.string()))
    return pa.table(columns)


def id_columns(table: pa.Table) -> set[str]:
    """Columns of whole numbers that differ on every row, no cell missing: row ids (eagergraph's rule, on the
    whole table as its ingest decides it)."""
    ids = set()
    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_floating(column.type) or column.null_count or table.num_rows < 2:
            continue
        values = column.to_numpy()
        if np.all(values == np.round(values)) and len(np.unique(values)) == table.num_rows:
            ids.add(name)
    return ids


def column_kinds(train: pa.Table, label: str, categorical: tuple[str, ...] = (), ids: set[str] = frozenset(),
                 max_categories: int = MAX_CATEGORIES) -> dict[str, str]:
    """Each column's kind on the training rows: "numeric", "categorical", or "left out: <reason>"."""
    kinds = {}
    for name in train.column_names:
        column = train.column(name)
        if name == label:
            kinds[name] = "left out: the label"
        elif column.null_count == len(column):
            kinds[name] = "left out: empty on every row"
        elif name in ids and name not in categorical:
            kinds[name] = "left out: looks like an id"
        elif name in categorical or pa.types.is_string(column.type) or pa.types.is_boolean(column.type):
            distinct = pc.count_distinct(column).as_py()
            kinds[name] = (f"left out: text, {distinct} distinct values (more than {max_categories})"
                           if distinct > max_categories else "categorical")
        else:
            kinds[name] = "numeric"
    return kinds


def stratified_split(target: np.ndarray, task: str, fraction: float, seed: int) -> np.ndarray:
    """True for test rows: round(fraction × n) rows of each class (regression: of each decile of the target)."""
    if task == "regression":
        edges = np.quantile(target, np.linspace(0, 1, 11)[1:-1])
        target = np.searchsorted(edges, target)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(target), dtype=bool)
    for value in np.unique(target):
        rows = np.flatnonzero(target == value)
        mask[rng.choice(rows, int(round(len(rows) * fraction)), replace=False)] = True
    return mask


def with_row_id(source: Path, out: Path) -> int:
    """The table with a leading row-id column, every other cell byte for byte as it was (CSV: one line per row);
    returns the row count."""
    if source.suffix == ".parquet":
        table = pq.read_table(source)
        pq.write_table(table.add_column(0, ROW_ID, pa.array(np.arange(table.num_rows))), out)
        return table.num_rows
    lines = [line for line in source.read_text().splitlines() if line.strip()]
    out.write_text("\n".join([f"{ROW_ID},{lines[0]}", *(f"{i},{line}" for i, line in enumerate(lines[1:]))]) + "\n")
    if read_raw(source).num_rows != len(lines) - 1:
        raise ValueError(f"{source}: a quoted cell spans lines; give the table as Parquet")
    return len(lines) - 1


# ---------------------------------------------------------------- the two contenders


@dataclass
class Outcome:
    """One table's line of the result table."""

    table: str
    task: str
    rows: int
    epochs: int | None
    metric: str
    split: str = "eagergraph's"  # whose split scikit-learn used
    eagergraph: float | None = None
    eagergraph_error: str | None = None
    sklearn: dict[str, float] = field(default_factory=dict)
    features: dict[str, str] = field(default_factory=dict)
    train_rows: int = 0
    test_rows: int = 0
    run_dir: str | None = None
    stopping: str | None = None  # what early stopping chose: "kept 7 of 10" (the best epoch of those run)

    @property
    def baseline(self) -> float | None:
        return self.sklearn.get("ridge" if self.task == "regression" else "logistic")

    @property
    def gap(self) -> float | None:
        return None if self.eagergraph is None or self.baseline is None else self.eagergraph - self.baseline

    @property
    def met(self) -> bool:
        return self.gap is not None and self.gap >= -TARGETS[self.task][1]


def one_line(text: str) -> str:
    """The last non-empty line of a command's error output: eagergraph's one-line error."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("eagergraph: ").removeprefix("error: ") if lines else "no error output"


def run_eagergraph(table: Table, data: Path, epochs: int | None, seed: int,
                   artifacts: Path) -> tuple[dict | None, str | None]:
    """`eagergraph run --json` on the table (`--epochs` only when given); (its JSON line, None) or (None, its one-line
    error)."""
    command = [*eagergraph_command(), "run", "--data", str(data), "--label", table.label, "--seed", str(seed),
               *(["--epochs", str(epochs)] if epochs is not None else []), "--modes", "graph", "--artifacts", str(artifacts), "--json", *table.options]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return None, one_line(done.stderr or done.stdout)
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def graph_metric(run_dir: Path, metric: str) -> float:
    """The graph model's test metric from metrics.json."""
    return float(json.loads((run_dir / "metrics.json").read_text())["graph"][metric])


def stopping_choice(run_dir: Path) -> str:
    """What early stopping chose for the graph model, from metrics.json: the epoch kept of those run, and why
    it stopped ("kept 7 of 10, no improvement for 3 epochs"; "kept 10 of 10" when it ran every epoch)."""
    graph = json.loads((run_dir / "metrics.json").read_text())["graph"]
    ran = graph.get("stopped_epoch") or len(graph.get("history", []))
    reason = graph.get("stop_reason")
    return f"kept {graph.get('best_epoch')} of {ran}" + (f", {reason}" if reason else "")


def eagergraph_split(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Row ids of eagergraph's train and test rows (rows it dropped are in neither)."""
    test = pq.read_table(run_dir / "normalized" / "test_raw.parquet", columns=[ROW_ID]).column(ROW_ID).to_numpy()
    kept = pq.read_table(run_dir / "raw.parquet", columns=[ROW_ID]).column(ROW_ID).to_numpy()
    return np.setdiff1d(kept, test), np.sort(test)


def sklearn_scores(train: pa.Table, test: pa.Table, kinds: dict[str, str], label: str, task: str, seed: int) -> dict:
    """LogisticRegression (Ridge for regression) and HistGradientBoosting on one-hot + imputed, scaled numbers."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [n for n, kind in kinds.items() if kind == "numeric"]
    categorical = [n for n, kind in kinds.items() if kind == "categorical"]

    def frame(part: pa.Table):
        df = part.select([*numeric, *categorical]).to_pandas()
        for name in categorical:  # one type per column, missing as its own value (the "missing" slot)
            df[name] = df[name].map(lambda v: "<missing>" if v is None or v != v else str(v))
        return df

    x_train, x_test = frame(train), frame(test)
    features = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        # dense: HistGradientBoosting takes no sparse input
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)])
    y_train = train.column(label).to_numpy(zero_copy_only=False)
    y_test = test.column(label).to_numpy(zero_copy_only=False)
    if task == "regression":
        scores = {}
        for name, model in (("ridge", Ridge()), ("hgb", HistGradientBoostingRegressor(random_state=seed))):
            predicted = make_pipeline(features, model).fit(x_train, y_train).predict(x_test)
            scores[name] = float(r2_score(y_test, predicted))
            scores[f"{name}_rmse"] = math.sqrt(mean_squared_error(y_test, predicted))
        return scores
    y_train, y_test = y_train.astype(str), y_test.astype(str)
    scores = {}
    models = (("logistic", LogisticRegression(max_iter=5000)), ("hgb", HistGradientBoostingClassifier(random_state=seed)))
    for name, model in models:
        fitted = make_pipeline(features, model).fit(x_train, y_train)
        proba = fitted.predict_proba(x_test)
        classes = list(fitted.classes_)
        if task == "binary":
            positive = max(classes, key=_sort_key)  # eagergraph's default: the larger value in sorted order
            scores[name] = float(roc_auc_score(y_test == positive, proba[:, classes.index(positive)]))
        else:
            scores[name] = float(accuracy_score(y_test, np.asarray(classes)[proba.argmax(axis=1)]))
            scores[f"{name}_macro_auc"] = float(roc_auc_score(y_test, proba, multi_class="ovr", average="macro",
                                                              labels=classes))
    return scores


def _sort_key(value: str) -> tuple:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def _eagergraph_outcome(outcome: Outcome, table: Table, data: Path, epochs: int | None, seed: int, work: Path):
    """One eagergraph run into `outcome` (its metric, or its one-line error); its split's row ids, or None."""
    outcome.epochs = epochs
    # an artifacts folder per table: another table's production model is not this one's reference
    result, error = run_eagergraph(table, data, epochs, seed, work / "artifacts" / table.name)
    if result is not None:
        run_dir = Path(result["run_dir"])
        outcome.run_dir = str(run_dir)
        try:
            outcome.eagergraph, outcome.eagergraph_error = graph_metric(run_dir, outcome.metric), None
            outcome.stopping = stopping_choice(run_dir)
            return eagergraph_split(run_dir)
        except (KeyError, OSError, ValueError) as exc:  # a run that finished but is not what this script reads
            error = f"cannot read the run's {outcome.metric} or split: {exc!r}"
    outcome.eagergraph, outcome.eagergraph_error = None, error
    return None


def own_split(tidied: pa.Table, table: Table, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row ids of the script's own seeded stratified 80/20 split (rows with no label are in neither)."""
    ids = tidied.column(ROW_ID).to_numpy()
    target = tidied.column(table.label)
    keep = pc.is_valid(target).to_numpy(zero_copy_only=False)
    values = target.to_numpy(zero_copy_only=False)[keep]
    mask = stratified_split(values if table.task == "regression" else values.astype(str), table.task, TEST_FRACTION, seed)
    return ids[keep][~mask], ids[keep][mask]


def measure(table: Table, source: Path, epochs: list[int | None], seed: int, work: Path) -> Outcome:
    """One table: eagergraph on the whole table, scikit-learn on eagergraph's split (or the script's own).

    With several epoch counts, eagergraph runs with each in turn until one meets the target (same seed, so the
    same split); the outcome holds the last run."""
    data = work / f"{table.name}{'.parquet' if source.suffix == '.parquet' else '.csv'}"
    rows = with_row_id(source, data)
    tidied = tidy(read_raw(data))
    outcome = Outcome(table.name, table.task, rows, epochs[0], TARGETS[table.task][0])
    split = _eagergraph_outcome(outcome, table, data, epochs[0], seed, work)
    if split is None:
        outcome.split = "own (seeded, stratified 80/20)"
    train_ids, test_ids = split if split is not None else own_split(tidied, table, seed)
    ids = tidied.column(ROW_ID).to_numpy()
    train = tidied.take(pa.array(np.searchsorted(ids, train_ids)))
    test = tidied.take(pa.array(np.searchsorted(ids, test_ids)))
    pq.write_table(train, work / f"{table.name}-train.parquet")
    pq.write_table(test, work / f"{table.name}-test.parquet")
    kinds = column_kinds(train, table.label, table.categorical, id_columns(tidied))
    outcome.features, outcome.train_rows, outcome.test_rows = kinds, train.num_rows, test.num_rows
    outcome.sklearn = sklearn_scores(train, test, kinds, table.label, table.task, seed)
    for more in epochs[1:]:
        if split is None or outcome.met:
            break
        _eagergraph_outcome(outcome, table, data, more, seed, work)
    return outcome


# ---------------------------------------------------------------- the table the README quotes


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def format_table(outcomes: list[Outcome]) -> str:
    """The results as one Markdown table: a failed eagergraph run shows its one-line error in its column."""
    lines = ["| table | task | rows | epochs (most) | early stopping | eagergraph (graph) | sklearn LR / Ridge | HGB | gap "
             "| target met? |",
             "|---|---|---:|---:|---|---|---:|---:|---:|---|"]
    for o in outcomes:
        mine = f"{o.metric} {o.eagergraph:.3f}" if o.eagergraph is not None else f"eagergraph failed: {o.eagergraph_error}"
        gap = "–" if o.gap is None else f"{o.gap:+.3f}"
        verdict = f"{'yes' if o.met else 'no'} (within {TARGETS[o.task][1]})"
        lines.append(f"| {o.table} | {o.task} | {o.rows:,} | {o.epochs or 'default'} | {o.stopping or '–'} | "
                     f"{mine.replace('|', '/')} | "
                     f"{_figure(o.baseline)} | {_figure(o.sklearn.get('hgb'))} | {gap} | {verdict} |")
    own = [o.table for o in outcomes if o.eagergraph is None]
    if own:
        lines.append(f"\nscikit-learn on the script's own seeded stratified 80/20 split for {', '.join(own)} "
                     "(eagergraph's split where it ran).")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; `--tables` is checked against the known tables (exit 2 on an unknown one)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=",".join(TABLES), help=f"comma-separated, from: {', '.join(TABLES)}")
    parser.add_argument("--epochs", default=None,
                        help="epochs for every table, or a comma list tried in turn until one meets the target "
                             "(default: each table's own; eagergraph's default for every table today)")
    parser.add_argument("--seed", type=int, default=42, help="eagergraph's --seed, the split and scikit-learn's seed")
    parser.add_argument("--eagergraph-options", default=None, metavar="OPTIONS",
                        help="eagergraph options used instead of each table's own (one string, shell-quoted), "
                             "e.g. --eagergraph-options=--drop-invalid")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder holding the tables' files")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here as JSON")
    parser.add_argument("--work", type=Path, default=None, help="keep the runs and splits here (default: a temporary folder)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.tables.split(",") if name.strip()]
    unknown = [name for name in names if name not in TABLES]
    if unknown or not names:
        parser.error(f"--tables: unknown table(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(TABLES)}")
    if args.epochs is not None:
        try:
            args.epochs = [int(value) for value in args.epochs.split(",")]
        except ValueError:
            parser.error(f"--epochs: not a number or a comma list of numbers: {args.epochs!r}")
        if min(args.epochs) < 1:
            parser.error("--epochs must be at least 1")
    args.tables = names
    if args.eagergraph_options is not None:
        args.eagergraph_options = tuple(shlex.split(args.eagergraph_options))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="eagergraph-quality-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.tables:
            table = TABLES[name]
            if args.eagergraph_options is not None:
                table = replace(table, options=args.eagergraph_options)
            source = _find(args.data_dir, table.file)
            outcome = measure(table, source, args.epochs or [table.epochs], args.seed, work)
            print(f"{name}: {outcome.eagergraph if outcome.eagergraph is not None else outcome.eagergraph_error} "
                  f"· sklearn {outcome.sklearn}", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    print(format_table(outcomes))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(o), "gap": o.gap, "target_met": o.met} for o in outcomes], indent=2))
    return 0


def _find(folder: Path, file: str) -> Path:
    """The table's file in the folder: as named, or the Parquet file of the same name."""
    for candidate in (folder / file, (folder / file).with_suffix(".parquet")):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"{folder / file}: not found (give the folder holding it with --data-dir)")


if __name__ == "__main__":
    sys.exit(main())
