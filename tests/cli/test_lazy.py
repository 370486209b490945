"""`archiveprint --help` lists every command without importing one; the summaries it shows are the commands' own."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from click.testing import CliRunner

from archiveprint.cli import COMMANDS, PRINT_COMMANDS, LazyGroup, main, print_group

HELP = ("import sys\n"
        "from archiveprint.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='archiveprint')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n")


@pytest.mark.parametrize(("group", "table"), [(main, COMMANDS), (print_group, PRINT_COMMANDS)])
def test_each_summary_is_the_first_paragraph_of_the_commands_help(group: LazyGroup, table: dict[str, tuple[str, str]]):
    for name, (_where, summary) in table.items():
        command = group.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.name == name
        assert inspect.cleandoc(command.help or "").split("\n\n")[0] == summary, name


def test_help_imports_no_command_and_no_database_library():
    done = subprocess.run([sys.executable, "-c", HELP], capture_output=True, text=True, timeout=120)
    listing, _, modules = done.stdout.partition("MODULES ")
    loaded = set(modules.split())
    assert "archiveprint.cli" in loaded
    assert not {m for m in loaded if m.startswith("archiveprint.cli.")}, "a command module was imported"
    assert not {m for m in loaded if m.split(".")[0] in {"sqlalchemy", "alembic", "weasyprint", "flask"}}
    for name in COMMANDS:  # the lazy listing is the one click makes once every command is loaded
        main.get_command(None, name)  # type: ignore[arg-type]
    assert listing == CliRunner().invoke(main, ["--help"], prog_name="archiveprint").output
