"""What a scoring run shows in the Prefect UI: pure builders (the score distribution as a small PNG, the markdown,
the drift table) and one thin call that publishes them."""

from __future__ import annotations

import os
from typing import Any

from eagergraph.reporting.artifacts import artifact_key
from eagergraph.reporting.charts import FIGSIZE, _png, _pyplot, data_uri_image
from eagergraph.text import plural


def distribution_png(distribution: dict[str, Any]) -> bytes:
    """The scores' distribution: binary, the positive class's probability in ten bins; multiclass, rows per
    predicted class; regression, the predicted values in ten bins."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=FIGSIZE)
    task = distribution["task"]
    if task == "multiclass":
        names, counts = list(distribution["classes"]), list(distribution["classes"].values())
        axis.bar(names, counts, color="tab:blue")
        axis.set_xlabel("predicted class", fontsize=8)
    else:
        edges = distribution["probability_edges" if task == "binary" else "value_edges"]
        counts = distribution["probability_counts" if task == "binary" else "value_counts"]
        if counts:
            axis.bar(edges[:-1], counts, width=[b - a for a, b in zip(edges, edges[1:])], align="edge",
                     color="tab:blue", edgecolor="white")
        axis.set_xlabel("probability of the positive class" if task == "binary" else "predicted value", fontsize=8)
    axis.set_ylabel("rows", fontsize=8)
    axis.set_title("scores of this run", fontsize=10)
    axis.tick_params(labelsize=7)
    return _png(figure)


def drift_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The drift table: one row per feature with its PSI, whether it drifted, and its new categories."""
    new = report.get("new_values", {})
    return [{"feature": name, "psi": value, "drifted": name in report.get("drifted", []),
             "new values": ", ".join(str(v) for v, _ in new.get(name, [])[:3])} for name, value in report.get("psi", {}).items()]


def merged(scored: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One distribution over the run's inputs: class counts and probability bins summed (the same bins for every
    input); regression values keep the first input's bins (each input has its own range)."""
    if not scored:
        return None
    total = dict(scored[0]["distribution"])
    for item in scored[1:]:
        other = item["distribution"]
        if "probability_counts" in total:
            total["probability_counts"] = [a + b for a, b in zip(total["probability_counts"], other["probability_counts"])]
        if "classes" in total:
            total["classes"] = {k: total["classes"].get(k, 0) + other["classes"].get(k, 0)
                                for k in sorted({*total["classes"], *other["classes"]})}
    return total


def scoring_markdown(planned: dict[str, Any], scored: list[dict[str, Any]], checks: list[dict[str, Any]],
                     skipped: list[str], link: str | None) -> str:
    """The scoring run's page: the model it used (with a link to its training run), rows scored and skipped, the
    score distribution as an inline chart, and the drift table per input."""
    rows = sum(item["rows"] for item in scored)
    model = f"[{planned['model_name']}]({link})" if link else planned["model_name"]
    lines = ["# Scoring", "", f"Model: {model}, run `{os.path.basename(planned['model_run'])}` "
             f"(digest `{planned['model_id'][:12]}`)", "",
             f"Scored {plural(rows, 'row')} from {plural(len(scored), 'input')}; "
             f"skipped {plural(len(skipped), 'input')} already scored by this model.", ""]
    distribution = merged(scored)
    if distribution is not None:
        lines += [data_uri_image(distribution_png(distribution), "score distribution"), ""]
    for check in checks:
        lines += [f"## {check['name']}", "", check["line"], ""]
        table = drift_rows(check)
        if table:
            lines += ["| feature | PSI | drifted | new values |", "|---|---|---|---|"]
            lines += [f"| {r['feature']} | {r['psi']:.3f} | {'yes' if r['drifted'] else 'no'} | {r['new values']} |"
                      for r in table]
            lines.append("")
    lines += [f"Output folder: `{planned['output']}`"]
    return "\n".join(lines) + "\n"


def publish_scoring(planned: dict[str, Any], scored: list[dict[str, Any]], checks: list[dict[str, Any]],
                    skipped: list[str]) -> None:
    """The scoring run's markdown artifact and a table artifact of what it wrote."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    from prefect.settings import PREFECT_API_URL

    from eagergraph.reporting.links import flow_run_link

    trained_by = planned.get("model_flow_run_id")
    api = PREFECT_API_URL.value()
    link = flow_run_link(api, trained_by) if api and trained_by else None
    create_markdown_artifact(scoring_markdown(planned, scored, checks, skipped, link), key=artifact_key("scoring"),
                             description="Scoring: the model used, rows scored, the score distribution and drift.")
    create_table_artifact([{"input": item["name"], "rows": item["rows"], "predictions": item["predictions"]}
                           for item in scored], key=artifact_key("scoring-outputs"),
                          description="Predictions files this scoring run wrote.")
