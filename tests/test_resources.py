"""resources.py finds the data folders in a checkout and in an installed wheel's archiveprint/_data/."""

from __future__ import annotations

import pytest

from archiveprint import resources


@pytest.fixture
def fresh_cache():
    resources.find.cache_clear()
    yield
    resources.find.cache_clear()


def test_a_checkout_uses_the_top_level_folders(fresh_cache):
    root = resources.PACKAGE_DIR.parent
    assert resources.template_dir() == root / "templates"
    assert resources.font_dir() == root / "fonts"
    assert (resources.template_dir() / "web" / "base.html").is_file()


def test_an_installed_copy_uses_its_data_folder(fresh_cache, tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "archiveprint"
    (package / "_data" / "templates" / "web").mkdir(parents=True)
    (tmp_path / "site-packages" / "templates").mkdir()  # another distribution's folder must not be picked up
    monkeypatch.setattr(resources, "PACKAGE_DIR", package)
    assert resources.template_dir() == package / "_data" / "templates"
    with pytest.raises(FileNotFoundError, match="fonts"):
        resources.font_dir()


def test_only_known_folders_can_be_asked_for(fresh_cache):
    with pytest.raises(ValueError, match="unknown data folder"):
        resources.find("../etc")
