"""`eagergraph bench` and `bench-data` as a user runs them: every contender, consistent ratios, eager bounded when
asked, the table published to the Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from eagergraph.bench.steps import CONTENDERS
from eagergraph.core.variants import VARIANTS, choose_variant


def test_bench_json_chart_and_published_artifact(tmp_path: Path, prefect_api: str) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    chart = tmp_path / "steps.png"
    done = run_cli("bench", "--rows", "64,160", "--epochs", "2", "--repeats", "1", "--eager-max-steps", "6",
                   "--chart", str(chart), "--publish", "--json", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["sizes"]) == {"64", "160"}
    assert "160 training rows" in done.stdout and "pays for its one-time cost" in done.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for rows, sizes in report["sizes"].items():
        eager, keras_fit = sizes["eager"], sizes["keras_fit"]
        for name in CONTENDERS:
            t = sizes[name]
            assert t["steady_seconds"] > 0 and t["median_step_ms"] > 0, (rows, name)
            assert t["total_seconds"] == pytest.approx(t["trace_seconds"] + t["steady_seconds"]), (rows, name)
            assert t["steps_per_second"] == pytest.approx(1000.0 / t["median_step_ms"]), (rows, name)
            # each ratio is the other contender's time over this one's, so eager's and Keras's own are exactly 1
            assert t["vs_eager"] == pytest.approx(eager["steady_seconds"] / t["steady_seconds"]), (rows, name)
            assert t["vs_eager_total"] == pytest.approx(eager["total_seconds"] / t["total_seconds"]), (rows, name)
            assert t["vs_keras_fit"] == pytest.approx(keras_fit["steady_seconds"] / t["steady_seconds"]), (rows, name)
            assert t["vs_keras_fit_total"] == pytest.approx(keras_fit["total_seconds"] / t["total_seconds"]), (rows, name)
        assert eager["vs_eager"] == 1.0 and keras_fit["vs_keras_fit"] == 1.0
        # Same data, model, seed and batch order: every variant of ours ends at the same loss.
        losses = [sizes[name]["final_loss"] for name in VARIANTS]
        assert max(losses) - min(losses) < 1e-4
    small, large = report["sizes"]["64"], report["sizes"]["160"]
    assert not small["eager"]["extrapolated"] and small["eager"]["final_loss"] == pytest.approx(small["fused"]["final_loss"], abs=1e-4)
    assert large["eager"]["extrapolated"] and large["eager"]["final_loss"] is None  # 5 steps × 2 epochs > 6
    assert "steps_per_execution=" in large["keras_fit"]["detail"] and "jit_compile=" in large["keras_fit"]["detail"]
    assert large["steps"] == 10 and large["auto_chooses"] == choose_variant("auto", 10)[0]
    assert large["break_even_steps"]["xla"] > 0  # eager is so slow a step that every variant pays back
    assert "extrapolated" in done.stdout
    # --publish: the table is an artifact on the server the command used (the session's), under its stable key
    assert "/artifacts/key/eagergraph-bench" in done.stdout
    with get_client(sync_client=True) as client:
        published = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["eagergraph-bench"])))
    assert len(published) == 1 and published[0].type == "markdown"
    for name in CONTENDERS:  # the figures of this run, not an empty table
        assert f"| {name} | " in published[0].data
        assert f"{report['sizes']['160'][name]['median_step_ms']:.4f} |" in published[0].data
    # Last, so that everything above is checked either way: TensorFlow's start-up notices (cuInit) and Prefect's
    # shutdown chatter stay off stderr, as in `run`.
    assert done.stderr == ""


def test_bench_refuses_bad_sizes() -> None:
    done = run_cli("bench", "--rows", "abc")
    assert done.returncode == 2 and "--rows" in done.stderr and "Traceback" not in done.stderr


def test_bench_data_reports_rates_and_memory_per_size() -> None:
    done = run_cli("bench-data", "--rows", "2000,30000", "--n-features", "3", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["rows"] for r in results] == [2000, 30000] and "peak memory" in done.stdout
    for r in results:
        assert set(r["rows_per_second"]) == {"ingest", "normalize", "engineer-features"}
        assert all(rate > 0 for rate in r["rows_per_second"].values())
        assert r["together_rows_per_second"] == r["rows"] / sum(r["seconds"].values())
        assert 50e6 < r["peak_memory_bytes"] < 2e9
    bad = run_cli("bench-data", "--rows", "many")
    assert bad.returncode == 2 and "--rows" in bad.stderr
