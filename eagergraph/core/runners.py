"""One runner family: a run is epochs of blocks from a source; a runner runs a block's batches.

Every variant means one thing whatever the source (tensors in memory or a Parquet stream):
- eager: a Python loop calls the step body; every operation runs as soon as it is reached;
- step: the same loop around the step body in tf.function (the textbook graph form);
- fused: the whole block (an in-memory epoch, or a row group's worth of streamed batches) in one tf.function;
- xla: the same loop compiled by XLA as one program (`jit_compile=True`).
The loops take batch `i` as `x[batches[i]]` with `batches` of static shape `[block_batches, batch_size]` and a
loop bound passed as a tensor, so XLA compiles one program for the full batches and one for the epoch's partial
last batch, whatever the number of epochs (a loop bound that XLA must know, as `tf.range` gives, recompiles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

import tensorflow as tf

from eagergraph.core.model import BatchStep
from eagergraph.core.sources import Block
from eagergraph.core.variants import Mode, Variant


@dataclass
class Runner:
    """Runs the first `n` full batches of a block and, when `rest`, its partial last batch. Built fresh for every
    training run, so no tf.function is ever shared between models or optimizers."""

    run_block: Callable[[Block, int, bool], None]
    warm_up: Callable[[Block], None] = lambda template: None  # traces (and compiles) up front, timed apart
    tracing_count: Callable[[], int] = lambda: 0  # traces of the tf.function the runner built


def _python_loop(step: BatchStep) -> Callable[[Block, int, bool], None]:
    def run_block(block: Block, n: int, rest: bool) -> None:
        for rows in block.batches[:n]:
            step(block.x, block.y, rows)
        if rest:
            step(block.x, block.y, block.rest)

    return run_block


def eager_runner(step: BatchStep) -> Runner:
    """Eager execution: a Python loop calls the step body; no tf.function anywhere on its path."""
    return Runner(_python_loop(step))


def step_runner(step: BatchStep, n_inputs: int) -> Runner:
    """tf.function around one step (any number of rows: one trace), called from a Python loop."""
    spec = (tf.TensorSpec([None, n_inputs], tf.float32), tf.TensorSpec([None, 1], tf.float32),
            tf.TensorSpec([None], tf.int32))
    graph_step = tf.function(step, input_signature=spec)
    return Runner(_python_loop(graph_step), lambda template: graph_step.get_concrete_function(),
                  graph_step.experimental_get_tracing_count)


def _spec(template: Block, batches_shape: list) -> list[tf.TensorSpec]:
    return [tf.TensorSpec(template.x.shape, tf.float32), tf.TensorSpec(template.y.shape, tf.float32),
            tf.TensorSpec(batches_shape, tf.int32), tf.TensorSpec([], tf.int32)]


def loop_runner(step: BatchStep, template: Block, jit_compile: bool) -> Runner:
    """The block's batch loop in one tf.function (`fused`), or compiled by XLA (`xla`). Either is traced once for
    both batch shapes; XLA then compiles one program per static shape, in the warm-up: one for the full batches,
    one for the epoch's partial last batch."""

    def loop(x: tf.Tensor, y: tf.Tensor, batches: tf.Tensor, n: tf.Tensor) -> None:
        def body(i: tf.Tensor) -> tuple[tf.Tensor]:
            step(x, y, batches[i])
            return (i + 1,)

        tf.while_loop(lambda i: i < n, body, (tf.constant(0),))  # no maximum_iterations: n stays a runtime value

    program = tf.function(loop, input_signature=_spec(template, [None, None]), jit_compile=jit_compile)

    def run_block(block: Block, n: int, with_rest: bool) -> None:
        if n:
            program(block.x, block.y, tf.constant(block.batches), tf.constant(n))
        if with_rest:
            program(block.x, block.y, tf.constant(block.rest[None, :]), tf.constant(1))

    def warm_up(block: Block) -> None:  # n = 0: traced and compiled for both shapes, no step runs
        program(block.x, block.y, tf.constant(block.batches), tf.constant(0))
        if len(block.rest):
            program(block.x, block.y, tf.constant(block.rest[None, :]), tf.constant(0))

    return Runner(run_block, warm_up, program.experimental_get_tracing_count)


def make_runner(mode: Mode, variant: Variant, step: BatchStep, template: Block) -> Runner:
    """The runner of a mode and variant for blocks shaped like `template`."""
    if mode == "eager":
        return eager_runner(step)
    if variant == "step":
        return step_runner(step, int(template.x.shape[1]))
    return loop_runner(step, template, jit_compile=variant == "xla")


def run_epoch(runner: Runner, blocks: Iterator[Block], budget: float = math.inf) -> int:
    """Run one epoch's blocks in order, at most `budget` steps; return the steps run (the one place they are counted)."""
    done = 0
    with closing(blocks):
        for block in blocks:
            n = int(min(block.n_batches, budget - done))
            rest = len(block.rest) > 0 and n == block.n_batches and done + n < budget
            runner.run_block(block, n, rest)
            done += n + int(rest)
            if done >= budget:
                break
    return done
