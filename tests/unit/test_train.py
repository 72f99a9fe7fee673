"""Eager and graph training: one step body, same weights, same batches, one trace."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from eagergraph.core.training import VARIANTS, build_model, epoch_order, train


def _data(rows: int = 200, n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n)).astype(np.float32)
    y = ((x**2).sum(axis=1, keepdims=True) > n).astype(np.float32)
    return x, y


def _weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


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
def test_graph_variants_match_eager_weights_and_predictions(variant: str) -> None:
    x, y = _data()  # 200 rows, batch 32: the last batch of each epoch is partial (8 rows)
    eager, eager_result = train(x, y, "eager", "step", epochs=3, batch_size=32, hidden=8, learning_rate=0.01, seed=5)
    graph, graph_result = train(x, y, "graph", variant, epochs=3, batch_size=32, hidden=8, learning_rate=0.01, seed=5)
    moved = max(float(np.max(np.abs(w - w0))) for w, w0 in zip(_weights(eager), _weights(build_model(6, 8, seed=5))))
    assert moved > 1e-2  # training really changed the weights, so agreement below means something
    for we, wg in zip(_weights(eager), _weights(graph)):
        np.testing.assert_allclose(we, wg, atol=1e-4, rtol=0)
    np.testing.assert_allclose(eager.predict(x, verbose=0), graph.predict(x, verbose=0), atol=1e-4, rtol=0)
    assert [h["loss"] for h in eager_result.history] == pytest.approx([h["loss"] for h in graph_result.history], abs=1e-4)
    # Traced once, the partial last batch included (xla: the epoch loop and its compiled step, once each).
    assert graph_result.tracing_count == (2 if variant == "xla" else 1)
    assert eager_result.tracing_count == 0 and eager_result.trace_seconds < graph_result.trace_seconds


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
    assert tf.executing_eagerly()


def test_different_seeds_train_different_models() -> None:
    x, y = _data(rows=64)
    a, _ = train(x, y, "graph", "fused", epochs=1, batch_size=32, hidden=4, learning_rate=0.01, seed=0)
    b, _ = train(x, y, "graph", "fused", epochs=1, batch_size=32, hidden=4, learning_rate=0.01, seed=1)
    assert any(not np.allclose(wa, wb) for wa, wb in zip(_weights(a), _weights(b)))
