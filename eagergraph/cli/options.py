"""Command-line options generated from PipelineConfig: each field's name, type, default and help become one
option, so a new config field appears in `run`, `serve`, `sweep` (and the TOML file and the deployment form)
with one line in the config.

The options carry the config's real defaults, so `--help` shows them; only the options the user actually typed
override a config file (click knows where each value came from).
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import typer
from pydantic import BaseModel

from eagergraph.config import PipelineConfig, option_name

ALL_FIELDS = tuple(PipelineConfig.model_fields)
CONTEXT = "_click_context"  # the generated command's click context: where each value came from


def _plain_type(annotation: Any) -> Any:
    """The field's type without `| None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _is_list(name: str, model: type[BaseModel] = PipelineConfig) -> bool:
    return name in model.model_fields and get_origin(_plain_type(model.model_fields[name].annotation)) is list


def parse_list(value: str) -> list[str]:
    """A comma-separated option value as a list: `a, b,` → ['a', 'b']."""
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_numbers(value: str, kind: type, option: str) -> list:
    """A comma-separated list of numbers (`kind` is int or float): `0.1, 0.01` → [0.1, 0.01]; a ConfigError
    naming the option when a part is not a number. The one number-list parser of the CLI."""
    from eagergraph.errors import ConfigError

    described = "whole numbers" if kind is int else "numbers"
    try:
        return [kind(part) for part in parse_list(value)]
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a comma-separated list of {described}") from None


def config_parameter(name: str, model: type[BaseModel] = PipelineConfig) -> inspect.Parameter:
    """One config field (of PipelineConfig, or another typed config such as the scoring flow's) as a keyword-only
    typer option; lists are typed comma-separated; a required field is a required option."""
    field = model.model_fields[name]
    kind = _plain_type(field.annotation)
    default = field.default if not field.is_required() else ...
    if _is_list(name, model):
        kind, default = str, ",".join(default) if default else None
    metavar = None
    if get_origin(kind) is Literal:  # choices shown in --help, checked by the config: one message for every bad value
        kind, metavar = str, "<" + "|".join(map(str, get_args(kind))) + ">"
    flag = option_name(name)
    declaration = f"{flag}/--no-{flag[2:]}" if kind is bool else flag
    option = typer.Option(declaration, help=field.description, show_default=default not in (None, ...), metavar=metavar)
    annotation = Annotated[kind if default is not None else Optional[kind], option]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def typed_overrides(values: dict[str, Any], model: type[BaseModel] = PipelineConfig) -> dict[str, Any]:
    """The options the user gave, in the config's own types (comma-separated lists split)."""
    return {name: parse_list(value) if _is_list(name, model) and isinstance(value, str) else value
            for name, value in values.items()}


def with_config_options(fields: Iterable[str] = ALL_FIELDS,
                        model: type[BaseModel] = PipelineConfig) -> Callable[[Callable], Callable]:
    """Give a command one option per field of a typed config (PipelineConfig unless `model` names another); it is
    called with `overrides`: the fields typed on the command line (not those left at their defaults), ready for
    `build_config`."""
    generated = [config_parameter(name, model) for name in fields]

    def decorate(command: Callable) -> Callable:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "overrides"]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            context = kwargs.pop(CONTEXT)
            given = {}
            for parameter in generated:
                value = kwargs.pop(parameter.name)
                source = context.get_parameter_source(parameter.name)  # typer vendors click: compare by name
                if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
                    given[parameter.name] = value
            return command(overrides=typed_overrides(given, model), **kwargs)

        context = inspect.Parameter(CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        wrapper.__signature__ = inspect.Signature([*own, context, *generated])  # type: ignore[attr-defined]
        return wrapper

    return decorate
