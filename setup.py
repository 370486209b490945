"""Build hook: copy the top-level data folders into the wheel as archiveprint/_data/.

The repository keeps templates/, fonts/ and storage_layout/ at the top level (easy to find and edit);
an installed copy finds them inside the package, through archiveprint/resources.py.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("templates", "fonts", "storage_layout")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "archiveprint" / "_data"
        for name in DATA_DIRS:
            if (here / name).is_dir():
                shutil.copytree(here / name, target / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.py"))


setup(cmdclass={"build_py": BuildWithData})
