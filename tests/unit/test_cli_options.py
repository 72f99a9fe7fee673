"""The CLI's options are generated from PipelineConfig: every field, with the config's own default and help."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from eagergraph.cli.options import with_config_options
from eagergraph.config import PipelineConfig, option_name


def _app() -> tuple[typer.Typer, list[dict]]:
    seen: list[dict] = []
    app = typer.Typer(rich_markup_mode=None)

    @app.command()
    @with_config_options()
    def run(verbose: bool = typer.Option(False, "--verbose"), overrides: dict | None = None) -> None:
        seen.append({"verbose": verbose, **(overrides or {})})

    @app.command()
    def other() -> None:  # a second command, so `run` keeps its name
        pass

    return app, seen


def test_help_lists_every_config_field_with_its_default_and_description() -> None:
    app, _ = _app()
    shown = " ".join(CliRunner().invoke(app, ["run", "--help"], terminal_width=400).output.split())
    for name, field in PipelineConfig.model_fields.items():
        assert option_name(name) in shown, name
        assert " ".join(field.description.split()) in shown, name
    assert "[default: 3]" in shown and "[default: 0.01]" in shown and "[default: artifacts]" in shown
    assert "--drop-invalid / --no-drop-invalid" in shown


def test_only_options_typed_on_the_command_line_override_in_the_configs_types() -> None:
    app, seen = _app()
    done = CliRunner().invoke(app, ["run", "--epochs", "10", "--features", "a, b,", "--drop-invalid", "--verbose"])
    assert done.exit_code == 0, done.output
    # --epochs 10 equals the default but was typed, so it still overrides a config file
    assert seen == [{"verbose": True, "epochs": 10, "features": ["a", "b"], "drop_invalid": True}]
    CliRunner().invoke(app, ["run"])
    assert seen[-1] == {"verbose": False}


def test_every_field_without_a_default_value_says_what_unset_means() -> None:
    """`--help` shows every option's default: a field whose default is None says in its help what that means."""
    for name, field in PipelineConfig.model_fields.items():
        if field.default is None:
            assert "(default: " in field.description, name
