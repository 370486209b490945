"""Each lending module works when it is the only one a command imports (mappers resolve their targets)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = ["models", "rules", "queries", "borrowers", "services", "requests", "journal", "documents"]


@pytest.mark.parametrize("module", MODULES)
def test_a_lending_module_imported_alone_configures_its_mappers(module: str):
    code = (f"import archiveprint.lending.{module}\n"
            "from sqlalchemy.orm import configure_mappers\n"
            "configure_mappers()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

