"""One text-cell rule, as a property: any dirty raw row scores the same through the training-side encoder
(`serving_columns` + the reference `encode`, what `predict` and the data stages apply) and through the SavedModel
reloaded from disk, fed the raw strings as a TF-Serving client sends them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eagergraph.core.export import export_model
from eagergraph.core.serving_inputs import CATEGORICAL, ModelInputs, serving_columns
from eagergraph.data.cells import MISSING_TOKENS, WHITESPACE
from eagergraph.data.normalize import Normalizer
from eagergraph.data.preprocessing import encode
from eagergraph.io import read_json
from eagergraph.rundir.paths import model_info_file
from serving_reference import N_INPUTS, NORMALIZER, tiny_model

WORDS = ["male", "female", "Paris, TX", "Oslo", "Lima", "Quito", "true", "false", "3", "1", "2", "7", "03", "+3",
         "3.0", "x"]


@st.composite
def dirty_cell(draw: st.DrawFn) -> str:
    """A raw cell as exports write them: a known or new word (booleans in any case, integers as text), a missing
    token or nothing, padded with any of the whitespace characters."""
    word = draw(st.sampled_from([*WORDS, *MISSING_TOKENS]))
    if word in ("true", "false"):
        word = "".join(c.upper() if draw(st.booleans()) else c for c in word)
    pad = st.text(alphabet=WHITESPACE + " ", max_size=3)
    return draw(pad) + word + draw(pad)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    model = tiny_model(N_INPUTS)
    path = export_model(model, NORMALIZER, tmp_path_factory.mktemp("cells") / "model")
    info = read_json(model_info_file(path))
    return model, tf.saved_model.load(str(path)).signatures["serving_default"], info


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries({name: dirty_cell() for name in ("sex", "home town", "pclass", "alone")}),
                     min_size=1, max_size=8),
       numbers=st.lists(st.floats(-1e6, 1e6), min_size=16, max_size=16))
def test_dirty_raw_cells_score_the_same_through_the_encoder_and_the_saved_model(served: tuple, rows: list[dict],
                                                                                numbers: list[float]) -> None:
    model, signature, info = served
    n = len(rows)
    raw = {"age": np.array(numbers[:n], np.float64), "fare": np.array(numbers[8:8 + n], np.float64),
           **{name: [row[name] for row in rows] for name in ("sex", "home town", "pclass", "alone")}}
    # The training side: the one text-cell rule on the raw table, then the reference encoding ("" is missing).
    inputs = ModelInputs.of(info)
    columns = serving_columns(pa.table(raw), inputs, "row")
    cells = {name: np.array([v or None for v in values], dtype=object) if inputs.kinds[name] == CATEGORICAL else values
             for name, values in columns.items()}
    expected = model(encode(cells, Normalizer(**NORMALIZER)), training=False).numpy()
    # The SavedModel, given the raw strings as they are.
    feeds = {info["inputs"][name]: tf.constant(values) for name, values in raw.items()}
    got = signature(**feeds)["probability"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
