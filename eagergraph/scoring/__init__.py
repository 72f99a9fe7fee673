"""Batch scoring: new data through the production model's SavedModel, checked against its training profile, with
lineage kept (no Prefect here; the stages are in tasks/, the flow in flows/scoring.py)."""
