"""A received pattern's ``brand`` is a catalog name, never a path (issue 24, item 5).

The attack: a ``pattern.json`` whose brand is ``../../<folder>/secret.csv`` made edits,
backstitch and ordering lists read that file (its color names, hexes and prices came back).
Every reader now looks the brand up among the built-in catalogs only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from craftpix import edit
from craftpix.cli import main
from craftpix.errors import InputError
from craftpix.export.backstitch import resolve_color
from craftpix.export.orders import catalog_column, catalog_facts
from craftpix.palette import load_palette, pattern_catalog
from craftpix.pattern import Pattern, pattern_from_indices

SECRET = "code,name,hex,price,bricklink_id\nS1,TOP SECRET NAME,#123456,987.65,4242\n"


@pytest.fixture
def secret(tmp_path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir()
    path = folder / "secret.csv"
    path.write_text(SECRET)
    return path


def relative_brand(secret: Path) -> str:
    """The brand string of the attack: a path up and back down to the secret file."""
    rel = os.path.relpath(secret, Path.cwd())
    return "../" * 12 + str(secret).lstrip("/") if not rel.startswith("..") else rel


def hostile(secret: Path, brand: str | None = None) -> Pattern:
    pal = load_palette("perler")
    cells = np.zeros((4, 5), dtype=int)
    cells[1, 1] = 1
    return pattern_from_indices(cells, pal.codes[:2], pal.names[:2], pal.hexes[:2], "beads",
                                brand or relative_brand(secret))


@pytest.mark.parametrize("brand", ["dmc", "DMC", " perler "])
def test_a_catalog_name_gives_the_catalog(brand):
    pal = pattern_catalog(brand)
    assert pal is not None and pal.name == brand.strip().lower()


def test_a_path_or_unknown_name_is_no_catalog(secret):
    for brand in (relative_brand(secret), str(secret), str(secret.with_suffix("")),
                  "secret.csv", "my-own-colors", "", "dmc/../dmc", "dmc.csv", "a" * 5000):
        assert pattern_catalog(brand) is None, brand


def test_library_readers_never_open_the_brand(secret):
    p = hostile(secret)
    with pytest.raises(InputError, match="not in this pattern") as err:
        edit.set_cell(p, 0, 0, "S1")
    assert "SECRET" not in str(err.value) and "123456" not in str(err.value)
    with pytest.raises(InputError):
        resolve_color(p, "S1")
    assert catalog_facts(p.brand).price == {} and catalog_facts(p.brand).bricklink == {}
    assert catalog_column(p.brand, "price") == {}


def test_cli_edit_and_export_of_a_received_pattern(secret, tmp_path):
    p = hostile(secret, brand=str(secret))  # absolute path: the simplest form of the attack
    folder = tmp_path / "received"
    folder.mkdir()
    path = p.save(folder / "pattern.json")
    r = CliRunner().invoke(main, ["edit", str(path), "--set", "1,1=S1"])
    assert r.exit_code == 2 and "not in this pattern" in r.output
    assert "SECRET" not in r.output
    r = CliRunner().invoke(main, ["edit", str(path), "--clean"])  # writes the files again
    assert r.exit_code == 0, r.output
    written = "".join(f.read_text(errors="replace") for f in folder.iterdir()
                      if f.suffix in (".csv", ".json", ".txt", ".xml"))
    assert "987.65" not in written and "TOP SECRET" not in written
    assert json.loads(path.read_text())["brand"] == str(secret)  # kept as a name


def test_web_app_edit_of_a_received_pattern(secret, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from craftpix.web import WebSettings, create_app

    text = hostile(secret).to_json().encode()
    with TestClient(create_app(WebSettings(work_dir=tmp_path / "work"))) as c:
        r = c.post("/api/pattern", files={"file": ("p.json", text, "application/json")})
        assert r.status_code == 200, r.text
        r = c.post("/api/edit", json={"op": "set", "row": 0, "col": 0, "to": "S1"})
        assert r.status_code == 400 and "not in this pattern" in r.json()["error"]
        assert "SECRET" not in r.text and "123456" not in r.text
        assert "SECRET" not in c.get("/api/catalog").text
        files = c.get("/api/files")
        assert files.status_code == 200, files.text
        shop = c.get("/api/files/shopping-list.csv")
        assert shop.status_code == 200 and "987.65" not in shop.text
