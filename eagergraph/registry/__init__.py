"""Recurring runs users can trust: data checks against production, the promotion gate, the registry, retention.

Plain files in the artifacts folder (`production` link, `registry.jsonl`), no server; no Prefect import here.
"""
