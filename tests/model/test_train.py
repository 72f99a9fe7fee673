"""Eager and graph training: one step body, same weights, same batches, fixed trace/compile counts, in memory
and streamed from Parquet, for every variant."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from eagergraph.core.model import build_model
from eagergraph.core.sources import InMemorySource, ParquetSource, epoch_order, open_source
from eagergraph.core.training import train, train_from
from eagergraph.core.variants import VARIANTS, break_even_steps, choose_variant
from eagergraph.data.io import LABEL

HP = dict(hidden=8, learning_rate=0.01, seed=5)


def _data(rows: int = 200, n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n)).astype(np.float32)
    y = ((x**2).sum(axis=1, keepdims=True) > n).astype(np.float32)
    return x, y


def _features_file(path: Path, rows: int = 300, n: int = 4, row_group: int = 70) -> Path:
    x, y = _data(rows, n, seed=7)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(n)}, LABEL: y[:, 0].astype(np.int8)})
    pq.write_table(table, path, row_group_size=row_group)  # several row groups, the last one short
    return path


@pytest.fixture(scope="module")
def in_memory() -> Callable:
    """`train` on `_data()` (200 rows, batch 32: the last batch of each epoch is partial, 8 rows), each (mode, variant,
    epochs) trained once for the module: eager's run is the same for every variant it is compared with. The tests
    only read the models and results it returns."""
    return functools.cache(lambda mode, variant, epochs: train(*_data(), mode, variant, epochs=epochs, batch_size=32, **HP))


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ParquetSource, Callable]:
    """A streamed source over a features file of several row groups, and `train_from` on it for 2 epochs, each
    (mode, variant) trained once for the module (read only, as `in_memory`)."""
    source = ParquetSource(_features_file(tmp_path_factory.mktemp("streamed") / "train.parquet"), batch_size=32, seed=5)
    return source, functools.cache(lambda mode, variant: train_from(source, mode, variant, epochs=2, **HP))


def _weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def _assert_same_training(eager, eager_result, graph, graph_result, x: np.ndarray) -> None:
    moved = max(float(np.max(np.abs(w - w0))) for w, w0 in zip(_weights(eager), _weights(build_model(x.shape[1], 8, 5))))
    assert moved > 1e-2  # training really changed the weights, so agreement below means something
    for we, wg in zip(_weights(eager), _weights(graph)):
        np.testing.assert_allclose(we, wg, atol=1e-4, rtol=0)
    np.testing.assert_allclose(eager.predict(x, verbose=0), graph.predict(x, verbose=0), atol=1e-4, rtol=0)
    assert [h["loss"] for h in eager_result.history] == pytest.approx([h["loss"] for h in graph_result.history], abs=1e-4)


def test_builds_have_identical_initial_weights() -> None:
    a, b = build_model(8, 4, seed=3), build_model(8, 4, seed=3)
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(_weights(a), _weights(build_model(8, 4, seed=4))))


def test_epoch_order_is_a_seeded_permutation() -> None:
    order = epoch_order(50, seed=1, epoch=0)
    assert sorted(order.tolist()) == list(range(50))
    assert np.array_equal(order, epoch_order(50, seed=1, epoch=0))
    assert not np.array_equal(order, epoch_order(50, seed=1, epoch=1))


@pytest.mark.parametrize("variant", VARIANTS)
def test_graph_variants_match_eager_in_memory(variant: str, in_memory: Callable) -> None:
    x, _ = _data()  # 200 rows, batch 32: the last batch of each epoch is partial (8 rows)
    eager, eager_result = in_memory("eager", "step", 3)
    graph, graph_result = in_memory("graph", variant, 3)
    _assert_same_training(eager, eager_result, graph, graph_result, x)
    # One trace (fused, xla: one program of static shapes, the partial last batch padded into it).
    assert graph_result.tracing_count == 1
    assert graph_result.variant == variant


@pytest.mark.parametrize("variant", VARIANTS)
def test_graph_variants_match_eager_streamed(variant: str, streamed: tuple[ParquetSource, Callable]) -> None:
    source, trained = streamed
    assert source.block_batches == 4  # a block per row group (70 rows), plus room for the rows the last batch left
    eager, eager_result = trained("eager", "step")
    graph, graph_result = trained("graph", variant)
    x = np.concatenate([xb for xb, _ in source.batches(0)])
    _assert_same_training(eager, eager_result, graph, graph_result, x)
    assert graph_result.tracing_count == 1 and not graph_result.bounded


def test_streamed_and_in_memory_blocks_give_every_row_once(tmp_path: Path) -> None:
    source = ParquetSource(_features_file(tmp_path / "train.parquet"), batch_size=32, seed=3)
    batches = list(source.batches(0))
    assert [len(xb) for xb, _ in batches] == [32] * 9 + [12] and source.steps_per_epoch == 10
    rows = sorted(map(tuple, np.concatenate([xb for xb, _ in batches]).tolist()))
    table = pq.read_table(source.path)
    assert rows == sorted(map(tuple, np.column_stack([table.column(f"f{i}").to_numpy() for i in range(4)]).tolist()))
    again = list(ParquetSource(source.path, batch_size=32, seed=3).batches(0))
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(batches, again))
    memory = InMemorySource(*_data(100, 3), batch_size=32, seed=3)
    assert [len(xb) for xb, _ in memory.batches(0)] == [32, 32, 32, 4]


def test_small_splits_stay_in_memory_large_ones_stream(tmp_path: Path) -> None:
    path = _features_file(tmp_path / "train.parquet")
    assert isinstance(open_source(path, 32, 0, in_memory_rows=300), InMemorySource)
    assert isinstance(open_source(path, 32, 0, in_memory_rows=299), ParquetSource)


@pytest.mark.parametrize("streaming, epochs", [(False, 3), (True, 2)], ids=["in-memory-3-epochs", "streamed-2-epochs"])
def test_xla_compiles_a_fixed_number_of_programs_before_the_first_epoch(streaming: bool, epochs: int, in_memory: Callable,
                                                                         streamed: tuple[ParquetSource, Callable]) -> None:
    # the very XLA runs that the parity tests above compare with eager
    _, result = streamed[1]("graph", "xla") if streaming else in_memory("graph", "xla", 3)
    assert len(result.epoch_seconds) == epochs
    assert result.tracing_count == 1  # however many epochs: one program, all of its inputs of static shape
    # XLA compiled it in the warm-up, timed apart: no epoch pays a compile (a compile takes a few hundred ms,
    # an epoch of 7 steps about a millisecond).
    assert max(result.epoch_seconds) < result.trace_seconds / 4


def test_bounded_training_counts_steps_in_one_place(streamed: tuple[ParquetSource, Callable]) -> None:
    source, _ = streamed
    for mode, variant in [("eager", "step"), ("graph", "xla")]:
        _, result = train_from(source, mode, variant, epochs=2, max_steps=13, **HP)
        assert result.bounded and result.steps == 13 and result.full_steps == 20
        assert [h["steps"] for h in result.history] == [10, 3]
        # the measured steps' mean time, extrapolated to all 20 steps (what speedup uses for a bounded eager)
        steady = result.train_seconds - result.trace_seconds
        assert (result.full_train_seconds - result.trace_seconds) / steady == pytest.approx(20 / 13)


def test_auto_picks_the_variant_fastest_in_total_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import eagergraph.core.variants as variants

    # The rule with the measured constants as its inputs: made-up figures whose break-evens are known by hand.
    for name, one_time, step in (("step", 0.1, 1e-3), ("fused", 0.2, 1e-4), ("xla", 1.0, 1e-5)):
        monkeypatch.setitem(variants.ONE_TIME_SECONDS, name, one_time)
        monkeypatch.setitem(variants.STEP_SECONDS, name, step)
    assert break_even_steps("step", "fused") == pytest.approx(0.1 / 9e-4)  # 111.1 steps
    assert break_even_steps("fused", "xla") == pytest.approx(0.8 / 9e-5)  # 8,888.9 steps
    assert [choose_variant("auto", steps)[0] for steps in (1, 111, 112, 8_888, 8_889, 10**6)] == \
        ["step", "step", "fused", "fused", "xla", "xla"]
    monkeypatch.undo()
    # With whatever constants the module holds now: the choice flips at each break-even, not at a pinned number.
    low, high = break_even_steps("step", "fused"), break_even_steps("fused", "xla")
    assert 1 < low < high
    assert choose_variant("auto", int(low))[0] == "step" and choose_variant("auto", int(low) + 1)[0] == "fused"
    assert choose_variant("auto", int(high))[0] == "fused" and choose_variant("auto", int(high) + 1)[0] == "xla"
    assert choose_variant("step", 10**9) == ("step", "asked for")
    x, y = _data(rows=64)
    _, result = train(x, y, "graph", "auto", epochs=1, batch_size=32, **HP)
    assert result.variant == choose_variant("auto", 2)[0] and "fastest in total for 2 steps" in result.variant_reason


def test_eager_mode_runs_without_tf_function() -> None:
    x, y = _data(rows=64)
    seen = []
    original = tf.function

    def spy(*args, **kwargs):
        seen.append(args)
        return original(*args, **kwargs)

    tf.function = spy
    try:
        train(x, y, "eager", "step", epochs=1, batch_size=32, hidden=4, learning_rate=0.01, seed=0)
    finally:
        tf.function = original
    assert seen == []


def test_different_seeds_train_different_models() -> None:
    x, y = _data(rows=64)
    a, _ = train(x, y, "graph", "fused", epochs=1, batch_size=32, hidden=4, learning_rate=0.01, seed=0)
    b, _ = train(x, y, "graph", "fused", epochs=1, batch_size=32, hidden=4, learning_rate=0.01, seed=1)
    assert any(not np.allclose(wa, wb) for wa, wb in zip(_weights(a), _weights(b)))
