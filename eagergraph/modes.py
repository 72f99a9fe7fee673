"""The training modes and graph variants, named once (a leaf: the config, the CLI, the reports and the TensorFlow
core all read these names; the rule that resolves `auto` is in core/variants.py)."""

from __future__ import annotations

from typing import Literal, get_args

Mode = Literal["eager", "graph"]
MODES: tuple[Mode, ...] = get_args(Mode)

Variant = Literal["step", "fused", "xla"]
VARIANTS: tuple[Variant, ...] = get_args(Variant)
GraphVariant = Literal["auto", "step", "fused", "xla"]  # what a user may ask for; `auto` resolves to a Variant
