"""One runner family: a run is epochs of blocks from a source; a runner runs a block's batches.

Every variant means one thing whatever the source (tensors in memory or a Parquet stream):
- eager: a Python loop calls the step body; every operation runs as soon as it is reached;
- step: the same loop around the step body in tf.function (the textbook graph form);
- fused: the whole block (an in-memory epoch, or a row group's worth of streamed batches) in one tf.function;
- xla: the same loop compiled by XLA as one program (`jit_compile=True`).
The loops take batch `i` as `x[batches[i]]` with `batches` of static shape `[block_batches, batch_size]` (the
epoch's partial last batch padded, its loss the mean over its real rows) and a loop bound passed as a tensor, so
XLA compiles ONE program per run, whatever the number of epochs (a loop bound that XLA must know, as `tf.range`
gives, would recompile for every value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

import tensorflow as tf

from eagergraph.core.model import BatchStep
from eagergraph.core.sources import Block
from eagergraph.modes import Mode, Variant


@dataclass
class Runner:
    """Runs the first `n` batches of a block. Built fresh for every training run, so no tf.function is ever
    shared between models or optimizers."""

    run_block: Callable[[Block, int], None]
    warm_up: Callable[[Block], None] = lambda template: None  # traces (and compiles) up front, timed apart
    tracing_count: Callable[[], int] = lambda: 0  # traces of the tf.function the runner built


def _python_loop(step: BatchStep) -> Callable[[Block, int], None]:
    def run_block(block: Block, n: int) -> None:
        for i in range(n):
            step(block.x, block.y, block.rows(i), block.counts[i])  # a partial batch without its padding

    return run_block


def eager_runner(step: BatchStep) -> Runner:
    """Eager execution: a Python loop calls the step body; no tf.function anywhere on its path."""
    return Runner(_python_loop(step))


def step_runner(step: BatchStep, n_inputs: int) -> Runner:
    """tf.function around one step (any number of rows: one trace), called from a Python loop."""
    spec = (tf.TensorSpec([None, n_inputs], tf.float32), tf.TensorSpec([None, 1], tf.float32),
            tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32))
    graph_step = tf.function(step, input_signature=spec)
    return Runner(_python_loop(graph_step), lambda template: graph_step.get_concrete_function(),
                  graph_step.experimental_get_tracing_count)


def loop_runner(step: BatchStep, template: Block, jit_compile: bool) -> Runner:
    """The block's batch loop in one tf.function (`fused`), or one XLA program (`xla`). Every input has a static
    shape (the epoch's partial last batch comes padded, with its count of real rows), so the loop is traced and
    compiled exactly once, in the warm-up; any other shape would be refused, not recompiled."""

    def loop(x: tf.Tensor, y: tf.Tensor, batches: tf.Tensor, counts: tf.Tensor, n: tf.Tensor) -> None:
        def body(i: tf.Tensor) -> tuple[tf.Tensor]:
            step(x, y, batches[i], counts[i])
            return (i + 1,)

        tf.while_loop(lambda i: i < n, body, (tf.constant(0),))  # no maximum_iterations: n stays a runtime value

    spec = [tf.TensorSpec(template.x.shape, tf.float32), tf.TensorSpec(template.y.shape, tf.float32),
            tf.TensorSpec(template.batches.shape, tf.int32), tf.TensorSpec(template.counts.shape, tf.int32),
            tf.TensorSpec([], tf.int32)]
    program = tf.function(loop, input_signature=spec, jit_compile=jit_compile)

    def run_block(block: Block, n: int) -> None:
        if n:
            program(block.x, block.y, tf.constant(block.batches), tf.constant(block.counts), tf.constant(n))

    def warm_up(block: Block) -> None:  # n = 0: traced and compiled, no step runs, no weight changes
        program(block.x, block.y, tf.constant(block.batches), tf.constant(block.counts), tf.constant(0))

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
            runner.run_block(block, n)
            done += n
            if done >= budget:
                break
    return done
