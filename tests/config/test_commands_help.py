"""Every operator command's `--help` says what it does and ends with a worked example."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import get_commands, load_command_class

OUR_APPS = {"accounts", "billing", "clusters", "usage", "webhooks"}
COMMANDS = sorted(
    (app, name) for name, app in get_commands().items() if app.split(".")[0] in OUR_APPS
)


def test_the_project_has_operator_commands():
    assert len(COMMANDS) >= 15, COMMANDS


@pytest.mark.parametrize(("app", "name"), COMMANDS, ids=[name for _, name in COMMANDS])
def test_every_command_has_help_with_an_example(app, name):
    command = load_command_class(app, name)
    parser = command.create_parser("manage.py", name)
    out = StringIO()
    parser.print_help(out)
    text = out.getvalue()
    assert command.help, f"{name} has no help text"
    assert f"python manage.py {name}" in text.split("Example")[-1], f"{name}: no example"
