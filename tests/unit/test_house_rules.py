"""The house rules issue 19 asked for, each shown on the code itself: process-wide state is set in one place, each
rule has one definition, and the small defects stay mended. The layers are import-linter contracts in
pyproject.toml, checked on the real import graph by `make lint`."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from eagergraph.config import SWEEP_FIELDS, PipelineConfig, build_config, refuse_run_only
from eagergraph.errors import ConfigError, DataError, RegistryError, UserError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "eagergraph"


def _sources(*folders: str) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))}


def _layer_graph(monkeypatch: pytest.MonkeyPatch) -> tuple[object, list]:
    """The import graph `make lint` checks (.ci/lint-imports' builder) and pyproject.toml's layers, with the
    contract's ignored imports taken out, as import-linter does."""
    import importlib.machinery
    import importlib.util
    import tomllib

    import grimp

    monkeypatch.syspath_prepend(str(ROOT))  # flows/ and tasks/ as grimp reads them, as lint-imports runs
    loader = importlib.machinery.SourceFileLoader("lint_imports", str(ROOT / ".ci" / "lint-imports"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("lint_imports", loader))
    loader.exec_module(module)
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    graph = module.InstalledNames().build(settings["root_packages"], None)
    contract = next(c for c in settings["contracts"] if c["type"] == "layers")
    for ignored in contract.get("ignore_imports", []):
        importer, _, imported = (part.strip() for part in ignored.partition("->"))
        for target in graph.find_modules_directly_imported_by(importer):
            if target == imported or (imported.endswith(".*") and target.startswith(imported[:-1])):
                graph.remove_import(importer=importer, imported=target)
    layers = [grimp.Layer(*[m.strip() for m in layer.replace(":", "|").split("|")], independent="|" in layer)
              for layer in contract["layers"]]
    return graph, layers


def test_the_layer_contract_sees_flows_and_tasks_and_refuses_an_upward_import(monkeypatch: pytest.MonkeyPatch) -> None:
    graph, layers = _layer_graph(monkeypatch)
    # imports spelled with the installed names are in the graph (grimp alone drops them)
    assert graph.direct_import_exists(importer="eagergraph.cli.app", imported="flows.pipeline")
    assert graph.direct_import_exists(importer="flows.pipeline", imported="tasks.gc")
    assert graph.find_illegal_dependencies_for_layers(layers) == set()
    graph.add_import(importer="eagergraph.metrics", imported="eagergraph.config")  # a leaf reaching up
    graph.add_import(importer="tasks.gc", imported="flows.pipeline")  # a stage importing a flow
    broken = {(d.importer, d.imported) for d in graph.find_illegal_dependencies_for_layers(layers)}
    assert broken == {("eagergraph.metrics", "eagergraph.config"), ("tasks", "flows")}


# Calls that change the whole process: the environment, signal handlers, logger levels, TensorFlow's determinism and
# global seed, the interpreter's thread switching (scoped warning filters inside `catch_warnings` are not here).
PROCESS_WIDE_CALLS = {"signal.signal", "os.putenv", "os.unsetenv", "os.chdir", "os.environ.setdefault",
                      "os.environ.update", "os.environ.pop", "os.environ.clear", "sys.setswitchinterval",
                      "sys.setrecursionlimit", "logging.disable", "set_random_seed", "tf.random.set_seed",
                      "enable_op_determinism", "disable_op_determinism", "setLevel"}
PROCESS_WIDE_ALLOWED = ("eagergraph/cli/", "eagergraph/core/runtime.py")


def _dotted(node: ast.AST) -> str:
    """`a.b.c` for a name or attribute chain; the chain's last names alone for anything else at its root."""
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def process_wide_writes(source: str) -> list[str]:
    """Each place a module's code changes process-wide state: the calls above, and `os.environ[...] = / del`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if any(name == call or name.endswith("." + call) for call in PROCESS_WIDE_CALLS):
                found.append(f"l.{node.lineno} {name}()")
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target] \
            if isinstance(node, ast.AugAssign) else []
        found += [f"l.{node.lineno} os.environ[...]" for target in targets
                  if isinstance(target, ast.Subscript) and _dotted(target.value) == "os.environ"]
    return found


def test_the_process_wide_check_finds_each_kind_of_write() -> None:
    source = ("import os, signal, logging, sys\nos.environ['A'] = '1'\ndel os.environ['A']\nos.environ.pop('A')\n"
              "signal.signal(signal.SIGTERM, print)\nlogging.getLogger('x').setLevel(10)\nsys.setswitchinterval(1)\n"
              "keras.utils.set_random_seed(1)\ntf.config.experimental.enable_op_determinism()\n"
              "os.environ.get('A')\nlogger.level\n")
    assert [line.split()[0] for line in process_wide_writes(source)] == [f"l.{n}" for n in range(2, 10)]


def test_only_the_cli_and_the_tensorflow_start_up_touch_process_wide_state() -> None:
    offenders = {name: found for name, text in _sources("eagergraph", "flows", "tasks").items()
                 if not name.startswith(PROCESS_WIDE_ALLOWED) and (found := process_wide_writes(text))}
    assert offenders == {}


def test_user_errors_share_one_base_the_cli_catches() -> None:
    from eagergraph.errors import USER_ERRORS

    assert all(issubclass(kind, UserError) for kind in (DataError, ConfigError, RegistryError))
    assert USER_ERRORS == (UserError,)


def test_registry_states_raise_registry_errors(tmp_path: Path) -> None:
    from eagergraph.registry.registry import rollback

    with pytest.raises(RegistryError, match="no such artifacts folder"):
        rollback(tmp_path / "missing")


def test_manifest_records_the_final_run_id_while_the_run_is_staged(tmp_path: Path) -> None:
    from eagergraph.rundir.manifest import write_manifest
    from eagergraph.rundir.staging import StagedRun

    with StagedRun(tmp_path) as run:
        (run.work / "raw.parquet").write_bytes(b"x")
        write_manifest(run.work, config={})
    manifest = json.loads((run.final / "manifest.json").read_text())
    assert manifest["run_id"] == run.final.name == run.run_id and not manifest["run_id"].startswith(".")


def test_counts_are_pluralized() -> None:
    from eagergraph.reporting.terminal import evaluation_table
    from eagergraph.text import plural

    assert [plural(n, "row") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]
    from eagergraph.reporting.terminal import TIMINGS as METRICS

    metrics = {"test_rows": 1, "graph": dict.fromkeys(METRICS, 1.0), "graph_variant": "fused", "speedup": None}
    assert evaluation_table(metrics).title.startswith("Evaluation on 1 test row")


def test_mode_label_is_one_rule() -> None:
    from eagergraph.text import mode_label

    assert [mode_label("eager", "fused"), mode_label("graph", "fused"), mode_label("graph", None)] == \
        ["eager", "graph (fused)", "graph"]


def test_an_unknown_config_key_suggests_the_closest_or_points_to_help(tmp_path: Path) -> None:
    close, far = tmp_path / "close.toml", tmp_path / "far.toml"
    close.write_text("epoch = 3\n")
    far.write_text("zzzzzz = 1\n")
    with pytest.raises(ConfigError) as near_miss:
        build_config(close)
    assert "did you mean 'epochs'?" in str(near_miss.value)
    with pytest.raises(ConfigError) as unknown:
        build_config(far)
    message = str(unknown.value)
    assert "see `eagergraph run --help`" in message and "learning_rate" not in message and len(message) < 200


def test_sweep_refuses_run_only_settings_of_a_config_file(tmp_path: Path) -> None:
    assert "keep_runs" not in SWEEP_FIELDS and "modes" not in SWEEP_FIELDS and "epochs" in SWEEP_FIELDS
    file = tmp_path / "run.toml"
    file.write_text("keep_runs = 3\nepochs = 2\n")
    with pytest.raises(ConfigError, match="does not apply keep_runs"):
        refuse_run_only(build_config(file), file)
    assert refuse_run_only(build_config(None, epochs=2), None).epochs == 2


def test_one_number_list_parser() -> None:
    from eagergraph.cli.options import parse_numbers

    assert parse_numbers("0.1, 0.01,", float, "--learning-rates") == [0.1, 0.01]
    assert parse_numbers("800,32000", int, "--rows") == [800, 32000]
    with pytest.raises(ConfigError, match="--rows: '8,x' is not a comma-separated list of whole numbers"):
        parse_numbers("8,x", int, "--rows")


def test_one_break_even_rule_for_auto_and_the_bench() -> None:
    from eagergraph.bench.steps import Timing, measured_break_even
    from eagergraph.core.variants import ONE_TIME_SECONDS, STEP_SECONDS, break_even_steps, steps_to_pay_back

    assert steps_to_pay_back(0.2, 0.7, 100e-6, 10e-6) == pytest.approx(0.5 / 90e-6)
    assert steps_to_pay_back(0.2, 0.1, 100e-6, 10e-6) == 0.0  # no extra one-time cost: paid back at once
    assert steps_to_pay_back(0.2, 0.7, 10e-6, 100e-6) is None  # slower steps never pay back
    expected = (ONE_TIME_SECONDS["xla"] - ONE_TIME_SECONDS["fused"]) / (STEP_SECONDS["fused"] - STEP_SECONDS["xla"])
    assert break_even_steps("fused", "xla") == pytest.approx(expected)
    fields = {name: 0.0 for name in Timing.__dataclass_fields__}
    slow = Timing(**{**fields, "name": "fused", "trace_seconds": 0.2, "median_step_ms": 0.1})
    fast = Timing(**{**fields, "name": "xla", "trace_seconds": 0.7, "median_step_ms": 0.01})
    assert measured_break_even(slow, fast) == pytest.approx(steps_to_pay_back(0.2, 0.7, 1e-4, 1e-5))


def test_each_gate_setting_is_one_config_field_that_reaches_the_rules() -> None:
    from eagergraph.metrics import FLOORS
    from eagergraph.registry.gate import GateRules

    assert set(FLOORS) <= set(PipelineConfig.model_fields)  # a floor is a config field, named once in FLOORS
    assert "min_auc" not in GateRules.__dataclass_fields__  # ...and not a rules field of its own with a default
    settings = dict(gate_metric="loss", gate_tolerance="2%", min_accuracy=0.8, beat_baseline=False,
                    accept_schema_change=True, seed=7)
    rules = GateRules.of(PipelineConfig(**settings))
    assert (rules.metric, rules.tolerance, rules.floors["min_accuracy"], rules.beat_baseline,
            rules.accept_schema_change, rules.seed) == ("loss", "2%", 0.8, False, True, 7)
    assert rules.floors["min_auc"] is None and rules.tolerance_rule.absolute(0.5) == pytest.approx(0.01)


def test_registry_entries_share_one_shape(tmp_path: Path) -> None:
    from eagergraph.registry.gate import decide, rules_of
    from eagergraph.registry.registry import promote, read_registry, record, rollback

    metrics = {"loss": 0.3, "accuracy": 0.9, "auc": 0.95, "precision": 0.9, "recall": 0.9}
    for name in ("20260101T000000000000Z-a", "20260101T000001000000Z-b"):
        run = tmp_path / name
        (run / "models" / "graph").mkdir(parents=True)
        (run / "models" / "graph" / "saved_model.pb").write_bytes(b"")
        (run / "manifest.json").write_text(json.dumps({"flow_run_id": name, "files": []}))
        (run / "metrics.json").write_text(json.dumps({"graph": metrics}))
    first, second = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    record(tmp_path, first, decide(metrics, None, rules_of()))
    promote(tmp_path, second)
    rollback(tmp_path)
    entries = read_registry(tmp_path)
    assert [e["action"] for e in entries] == ["promote", "promote", "rollback"]
    common = {"time", "run", "action", "mode", "promoted", "reason", "previous", "production", "flow_run_id",
              "data_blake3", "metrics"}
    assert all(common <= set(entry) for entry in entries)
    assert entries[2]["production"] == first.name and entries[2]["previous"] == second.name


def test_the_data_stage_cache_key_composes_prefects_policies(tmp_path: Path) -> None:
    from prefect.cache_policies import CompoundCachePolicy, Inputs, TaskSource

    from eagergraph.orchestration.caching import StageFiles, data_input, stage_policy

    policy = stage_policy(data_input, exclude=["data"])
    assert isinstance(policy, CompoundCachePolicy)
    kinds = {type(p) for p in policy.policies}
    assert kinds == {TaskSource, Inputs, StageFiles}
    inputs_policy = next(p for p in policy.policies if isinstance(p, Inputs))
    assert set(inputs_policy.exclude) == {"run_dir", "data"}

    from prefect import task

    @task
    def ingest_like(run_dir: str, data: str, seed: int) -> None:
        """A stand-in stage: TASK_SOURCE hashes its source."""

    context = SimpleNamespace(task=ingest_like)  # the part of a TaskRunContext the policies read
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("a,y\n1,0\n")
    two.write_text("a,y\n1,0\n")
    (tmp_path / "artifacts").mkdir()

    def key(data: Path, run: str, seed: int = 1) -> str:
        inputs = {"run_dir": str(tmp_path / "artifacts" / run), "data": str(data), "seed": seed}
        return policy.compute_key(task_ctx=context, inputs=inputs, flow_parameters={})

    assert key(one, ".tmp-a") == key(two, ".tmp-b")  # same content, other path, other run directory
    assert key(one, ".tmp-a") != key(one, ".tmp-a", seed=2)  # a parameter is part of the key
    two.write_text("a,y\n2,0\n")
    assert key(one, ".tmp-a") != key(two, ".tmp-a")  # content is


def test_prefect_error_lines_about_user_errors_stay_off_the_console() -> None:
    from eagergraph.cli.terminal import UserErrorLines

    keep = UserErrorLines()

    def record(level: int, message: str, exc: BaseException | None = None) -> logging.LogRecord:
        return logging.LogRecord("prefect.task_runs", level, __file__, 1, message, None,
                                 (type(exc), exc, None) if exc else None)

    refused = DataError("data.csv: label column 'label' has more than two values")
    assert not keep.filter(record(logging.ERROR, f"Task run failed with exception: {refused!r}", refused))
    assert not keep.filter(record(logging.ERROR, "Finished in state Failed('Task run encountered an exception "
                                                 "DataError: data.csv: label column ...')"))
    assert not keep.filter(record(logging.ERROR, f"Finished in state Failed({RegistryError('x')!r})"))
    assert keep.filter(record(logging.ERROR, "Task run failed with exception: RuntimeError('disk on fire')"))
    flow_failed = f"Finished in state Failed('Flow run encountered an exception: DataError: {refused}')"
    assert not keep.filter(record(logging.INFO, flow_failed))
    assert keep.filter(record(logging.INFO, "Finished in state Completed()"))
