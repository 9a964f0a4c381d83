"""Bundled data is found in a checkout and in an installed copy."""

from craftpix import resources


def test_checkout_layout_uses_top_level_folders():
    assert (resources.bundled_dir("palettes") / "dmc.csv").is_file()
    assert (resources.bundled_dir("templates") / "beads.toml").is_file()


def test_installed_layout_wins_when_present(tmp_path, monkeypatch):
    package = tmp_path / "site" / "craftpix"
    (package / "palettes").mkdir(parents=True)
    monkeypatch.setattr(resources, "_PACKAGE", package)
    assert resources.bundled_dir("palettes") == package / "palettes"
    assert resources.bundled_dir("templates") == tmp_path / "site" / "templates"
