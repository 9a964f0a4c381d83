"""The web app's JSON API in-process (FastAPI's TestClient): every endpoint, error and limit."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from craftpix.api import load  # noqa: E402
from craftpix.cli import main  # noqa: E402
from craftpix.web import WebSettings, create_app  # noqa: E402
from craftpix.web.jobs import JobLimit, JobQueue  # noqa: E402

SMALL = {"medium": "beads", "width": 8, "height": 8, "colors": 3, "seed": 1}


def _photo_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 32)) -> bytes:
    rng = np.random.default_rng(11)
    w, h = size
    img = np.zeros((h, w, 3))
    img[...] = [0.9, 0.85, 0.7]
    img[: h // 2, : w // 2] = [0.8, 0.1, 0.1]
    img[h // 2:, w // 2:] = [0.1, 0.3, 0.8]
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((img * 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def work(tmp_path):
    return tmp_path / "work"


def client_for(work: Path, runner=None, **settings) -> TestClient:
    kwargs = {"runner": runner} if runner is not None else {}
    return TestClient(create_app(WebSettings(work_dir=work, **settings), **kwargs))


def upload(client, data: bytes, name: str = "photo.png", path: str = "/api/image"):
    return client.post(path, files={"file": (name, data, "application/octet-stream")})


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One session with a photo and an 8×8 bead pattern (shared by the read-only tests)."""
    work = tmp_path_factory.mktemp("web") / "work"
    with TestClient(create_app(WebSettings(work_dir=work))) as client:
        assert upload(client, _photo_bytes()).status_code == 200
        r = client.post("/api/generate", json=SMALL)
        assert r.status_code == 200, r.text
        yield client


def error_of(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


# --- pages and reference data ------------------------------------------------------------------
def test_index_static_and_options(work):
    with client_for(work) as c:
        page = c.get("/")
        assert page.status_code == 200 and "<title>craftpix</title>" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        for asset in ("app.js", "app.css", "icon.svg"):
            assert c.get(f"/static/{asset}").status_code == 200
        for asset in ("index.html", "app.js", "app.css"):  # no CDN: every asset is local
            text = c.get(f"/static/{asset}").text
            assert "http://" not in text and "https://" not in text and "//cdn" not in text
        opts = c.get("/api/options").json()
        assert [m["name"] for m in opts["crafts"]] == ["beads", "bricks", "stitch", "diamond"]
        assert opts["limits"]["max_side"] == 500 and "dmc" in opts["catalogs"]
        cat = c.get("/api/catalog", params={"brand": "hama"}).json()
        assert cat["name"] == "hama" and len(cat["colors"]) > 20
        assert all(set(x) == {"code", "name", "hex"} for x in cat["colors"])
        everything = c.get("/api/catalog", params={"brand": "hama", "all_finishes": True})
        assert len(everything.json()["colors"]) >= len(cat["colors"])
        assert "unknown catalog" in error_of(c.get("/api/catalog", params={"brand": "x.csv"}),
                                             400)


def test_error_pages_are_one_line(work, monkeypatch):
    with client_for(work) as c:
        assert "no such page" in error_of(c.get("/api/nothing"), 404)
        page = c.get("/nothing")
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        assert "there is no such page" in page.text and "Traceback" not in page.text
        assert "not allowed" in error_of(c.put("/api/generate"), 405)
        assert c.get("/api/pattern").status_code == 204  # no pattern yet: not an error
        for method, path in (("post", "/api/undo"), ("post", "/api/redo"),
                             ("get", "/api/files"), ("get", "/api/preview.png"),
                             ("get", "/api/catalog"), ("get", "/api/files/pattern.pdf")):
            assert "no pattern yet" in error_of(getattr(c, method)(path), 409)
        assert "no pattern yet" in error_of(c.post("/api/edit", json={"op": "clean"}), 409)

        import craftpix.api

        def boom(request, on_progress=None):
            raise RuntimeError("kaputt")

        upload(c, _photo_bytes())
        monkeypatch.setattr(craftpix.api, "make_pattern", boom)
        c2 = TestClient(c.app, raise_server_exceptions=False)
        c2.cookies = c.cookies
        msg = error_of(c2.post("/api/generate", json=SMALL), 500)
        assert msg == "internal error (RuntimeError); see the server's log"


def test_messages_never_show_the_work_folder(work, monkeypatch):
    import craftpix.api
    from craftpix.errors import InputError

    def refuse(request, on_progress=None):
        raise InputError(f"image {request.image} is not an image craftpix can read")

    with client_for(work) as c:
        upload(c, _photo_bytes())
        monkeypatch.setattr(craftpix.api, "make_pattern", refuse)
        msg = error_of(c.post("/api/generate", json=SMALL), 400)
        assert str(work) not in msg and msg.startswith("image photo-") and ".png is not" in msg


# --- making patterns ---------------------------------------------------------------------------
def test_app_and_cli_make_identical_patterns(work, tmp_path):
    """The issue's acceptance test: same request, same pattern, in the app and the CLI."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_photo_bytes("JPEG", (48, 40)))
    form = {"medium": "stitch", "width": 12, "height": 10, "colors": 4, "seed": 7,
            "smooth": 2.0, "fabric_count": 16}
    with client_for(work) as c:
        assert upload(c, photo.read_bytes(), "whatever.bin").status_code == 200
        state = c.post("/api/generate", json=form).json()
        app_json = c.get("/api/files/pattern.json")
    assert app_json.status_code == 200
    from_app = load_bytes(app_json.content)
    res = CliRunner().invoke(main, ["stitch", "--image", str(photo), "--size", "12x10",
                                    "--colors", "4", "--seed", "7", "--smooth", "2",
                                    "--fabric-count", "16", "--out", str(tmp_path / "cli"),
                                    "-q"])
    assert res.exit_code == 0, res.output
    from_cli = load(tmp_path / "cli" / "pattern.json")
    assert np.array_equal(from_app.cells, from_cli.cells)
    assert from_app.palette == from_cli.palette and from_app.brand == from_cli.brand == "dmc"
    assert state["cells"] == from_cli.cells.tolist()
    assert state["size_mm"] == [round(12 * 25.4 / 16, 1), round(10 * 25.4 / 16, 1)]


def load_bytes(data: bytes):
    from craftpix.pattern import Pattern

    return Pattern.from_json(data.decode())


def test_pattern_state_and_preview(made):
    state = made.get("/api/pattern").json()
    assert (state["width"], state["height"], state["medium"]) == (8, 8, "beads")
    assert sum(p["count"] for p in state["palette"]) == state["pieces"] == 64
    assert len({p["symbol"] for p in state["palette"]}) == len(state["palette"]) <= 3
    assert state["can_undo"] is False and state["can_redo"] is False
    assert state["summary"].startswith("8×8 fuse beads")
    for style in ("craft", "pixels"):
        r = made.get("/api/preview.png", params={"style": style})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(r.content)) as im:
            assert im.width == im.height >= 64
    assert "unknown preview style" in error_of(
        made.get("/api/preview.png", params={"style": "oil"}), 400)


def test_catalog_closest_first(made):
    state = made.get("/api/pattern").json()
    code = state["palette"][0]["code"]
    colors = made.get("/api/catalog", params={"near": code}).json()["colors"]
    assert colors[0]["code"] == code and colors[0]["delta_e"] == 0.0
    dists = [c["delta_e"] for c in colors]
    assert dists == sorted(dists) and dists[-1] > 30
    assert len(colors) == len(made.get("/api/catalog").json()["colors"])
    assert "has no color 'NOPE'" in error_of(
        made.get("/api/catalog", params={"near": "NOPE"}), 400)


@pytest.mark.parametrize(("changes", "status", "message"), [
    ({"brand": "../../palettes/dmc.csv"}, 400, "unknown catalog"),
    ({"brand": "/etc/passwd"}, 400, "unknown catalog"),
    ({"width": 1}, 400, "each side must be 2 to 500"),
    ({"width": 501}, 400, "out of range"),
    ({"width": "wide"}, 400, "width: Input should be a valid integer"),
    ({"medium": "knitting"}, 400, "unknown craft 'knitting'; choose one of beads"),
    ({"colors": 0}, 400, "colors must be 1 to 500"),
    ({"seed": 2**40}, 400, "seed must be"),
    ({"fit": "zoom"}, 400, "fit must be one of"),
    ({"smooth": 1000}, 400, "smooth must be"),
    ({"formats": "dst"}, 400, "not from beads"),
    ({"section": 31}, 400, "not a fuse beads board size"),
    ({"hoop": "big"}, 400, "hoop"),
    ({"palette": True}, 400, "upload a palette file first"),
    ({"path": "/etc/passwd"}, 400, "path: Extra inputs are not permitted"),
])
def test_bad_forms_get_the_cli_messages(made, changes, status, message):
    assert message in error_of(made.post("/api/generate", json={**SMALL, **changes}), status)


def test_generate_needs_a_photo_and_a_json_body(work):
    with client_for(work) as c:
        assert "give a prompt, an image, or both" in error_of(
            c.post("/api/generate", json=SMALL), 400)
        r = c.post("/api/generate", content=b"{not json", headers={
            "content-type": "application/json"})
        assert "JSON" in error_of(r, 400)


# --- uploads -----------------------------------------------------------------------------------
def test_photo_uploads_are_sniffed_not_named(work):
    with client_for(work, max_upload_bytes=50_000, max_pixels=10_000) as c:
        ok = upload(c, _photo_bytes("WEBP"), "holiday.txt")
        assert ok.status_code == 200 and ok.json()["format"] == "WEBP"
        assert ok.json()["name"] == "holiday"
        assert "not an image" in error_of(upload(c, b"GIF89a but not really", "a.gif"), 400)
        assert "not an image" in error_of(upload(c, b"hello" * 100, "photo.png"), 400)
        assert "is empty" in error_of(upload(c, b"", "photo.png"), 400)
        truncated = _photo_bytes("PNG", (60, 60))
        assert "cannot be decoded" in error_of(upload(c, truncated[: len(truncated) // 2]), 400)
        ppm = io.BytesIO()
        Image.new("RGB", (4, 4)).save(ppm, format="PPM")
        assert "PPM image; send PNG" in error_of(upload(c, ppm.getvalue(), "a.png"), 400)
        big = _photo_bytes("PNG", (120, 100))  # 12 000 pixels > 10 000
        assert "120×100 pixels" in error_of(upload(c, big), 400)
        noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(noise).save(buf, format="PNG")  # ≈ 120 kB > 50 kB
        assert "too large" in error_of(upload(c, buf.getvalue()), 413)
        # the accepted photo is still the session's photo
        assert c.post("/api/generate", json=SMALL).status_code == 200


def test_decompression_bomb_is_refused_before_decoding(work):
    buf = io.BytesIO()
    Image.new("1", (7000, 7000)).save(buf, format="PNG")  # 49 MP in a few kB
    assert len(buf.getvalue()) < 100_000
    with client_for(work) as c:
        assert "7000×7000 pixels" in error_of(upload(c, buf.getvalue()), 400)


def test_request_bodies_over_the_limit_are_cut_off(work):
    limit = 4096
    with client_for(work, max_upload_bytes=limit, max_palette_bytes=limit,
                    max_pattern_bytes=limit) as c:
        big = b"x" * (limit + 70 * 1024)
        r = c.post("/api/generate", content=big, headers={"content-type": "application/json"})
        assert "upload is too large" in error_of(r, 413)

        def chunks():  # no Content-Length: counted as it streams
            yield (b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
                   b"Content-Type: image/png\r\n\r\n")
            for _ in range(40):
                yield b"y" * 4096

        r = c.post("/api/image", content=chunks(), headers={
            "content-type": "multipart/form-data; boundary=zz"})
        assert "upload is too large" in error_of(r, 413)


def test_palette_upload_by_content(work):
    csv = b"code,name,hex\nR,red,#d01010\nB,blue,#1030c0\nW,cream,#e8dcb8\nK,black,#000000\n"
    gpl = b"GIMP Palette\nName: mine\n208 16 16 red\n16 48 192 blue\n232 220 184 cream\n"
    hexes = b"d01010\n1030c0\n#e8dcb8\n"
    with client_for(work) as c:
        upload(c, _photo_bytes())
        for data, fmt, n in ((gpl, "gpl", 3), (hexes, "hex", 3), (csv, "csv", 4)):
            r = upload(c, data, "My Colors!.dat", "/api/palette")
            assert r.json() == {"name": "my-colors", "colors": n, "format": fmt}
        (session_dir,) = work.iterdir()
        assert len(list(session_dir.glob("palette-*"))) == 1  # the older uploads are gone
        assert upload(c, csv, "perler.csv", "/api/palette").json()["name"] == "perler-own"
        upload(c, csv, "My Colors!.dat", "/api/palette")
        state = c.post("/api/generate", json={**SMALL, "palette": True}).json()
        assert state["brand"] == "my-colors"
        assert {p["code"] for p in state["palette"]} <= {"R", "B", "W", "K"}
        cat = c.get("/api/catalog").json()
        assert [x["code"] for x in cat["colors"]] == ["R", "B", "W", "K"]
        # an edit may take any color of the uploaded palette
        unused = next(x for x in "RBWK" if x not in {p["code"] for p in state["palette"]})
        r = c.post("/api/edit", json={"op": "replace", "code": state["palette"][0]["code"],
                                      "to": unused})
        assert unused in {p["code"] for p in r.json()["palette"]}
        assert "line 3: bad hex color" in error_of(
            upload(c, b"code,name,hex\nR,red,#d01010\nB,blue,#zzzzzz\n", "p.csv",
                   "/api/palette"), 400)
        assert "not UTF-8" in error_of(upload(c, b"\xff\xfe\x00bad", "p.csv", "/api/palette"),
                                       400)
        assert "header must start" in error_of(upload(c, b"a,b\n", "p.csv", "/api/palette"),
                                               400)
        assert c.delete("/api/palette").json() == {"ok": True}
        assert "upload a palette file first" in error_of(
            c.post("/api/generate", json={**SMALL, "palette": True}), 400)


def test_pattern_upload(work, made):
    text = made.get("/api/files/pattern.json").content
    with client_for(work, max_pattern_bytes=len(text) + 10) as c:
        state = upload(c, text, "p.json", "/api/pattern").json()
        assert state["width"] == 8 and "(uploaded)" in state["summary"]
        assert c.post("/api/edit", json={"op": "clean"}).status_code == 200
        assert "not valid JSON" in error_of(upload(c, b"{", "p.json", "/api/pattern"), 400)
        bad = json.loads(text)
        bad["cells"][0][0] = 99
        assert "row 0 column 0 is 99" in error_of(
            upload(c, json.dumps(bad).encode(), "p.json", "/api/pattern"), 400)
        assert "too large" in error_of(upload(c, text + b" " * 20, "p.json", "/api/pattern"),
                                       413)


# --- edits and history -------------------------------------------------------------------------
def test_edits_undo_redo(work):
    with client_for(work, max_history=4) as c:
        upload(c, _photo_bytes())
        s0 = c.post("/api/generate", json=SMALL).json()
        codes = [p["code"] for p in s0["palette"]]
        catalog = [x["code"] for x in c.get("/api/catalog").json()["colors"]]
        new = next(x for x in catalog if x not in codes)

        s1 = c.post("/api/edit", json={"op": "replace", "code": codes[0], "to": new}).json()
        assert new in [p["code"] for p in s1["palette"]] and codes[0] not in [
            p["code"] for p in s1["palette"]]
        assert s1["can_undo"] and s1["edits"] == [f"replace {codes[0]}={new}"]
        s2 = c.post("/api/edit", json={"op": "set", "row": 0, "col": 0, "to": codes[1]}).json()
        assert s2["palette"][s2["cells"][0][0]]["code"] == codes[1]
        s3 = c.post("/api/edit", json={"op": "fill", "row": 7, "col": 7, "to": new}).json()
        assert s3["palette"][s3["cells"][7][7]]["code"] == new
        s4 = c.post("/api/edit", json={"op": "exclude", "code": new}).json()
        assert new not in [p["code"] for p in s4["palette"]]

        back = c.post("/api/undo").json()
        assert back["cells"] == s3["cells"] and back["can_redo"]
        fwd = c.post("/api/redo").json()
        assert fwd["cells"] == s4["cells"] and not fwd["can_redo"]
        assert "nothing to redo" in error_of(c.post("/api/redo"), 409)
        for _ in range(3):  # max_history=4: only three steps back are kept
            assert c.post("/api/undo").status_code == 200
        assert "nothing to undo" in error_of(c.post("/api/undo"), 409)
        assert c.get("/api/pattern").json()["cells"] == s1["cells"]

        s5 = c.post("/api/edit", json={"op": "clean", "size": 2}).json()
        assert s5["edits"][-1] == "clean 2" and not s5["can_redo"]  # an edit drops redo
        hama = c.post("/api/edit", json={"op": "convert", "brand": "hama"}).json()
        assert hama["brand"] == "hama" and hama["width"] == 8
        hama_codes = {x["code"] for x in c.get("/api/catalog").json()["colors"]}
        assert {p["code"] for p in hama["palette"]} <= hama_codes


@pytest.mark.parametrize(("body", "message"), [
    ({"op": "paint"}, "unknown edit 'paint'"),
    ({"op": "replace", "code": "X"}, "needs 'to'"),
    ({"op": "set", "to": "X"}, "needs 'row' and 'col'"),
    ({"op": "replace", "code": "NOPE", "to": "NOPE"}, "the pattern has no color 'NOPE'"),
    ({"op": "exclude", "code": "NOPE"}, "the pattern has no color 'NOPE'"),
    ({"op": "set", "row": 8, "col": 0, "to": "80-19001"}, "cell (9, 1) is outside the 8×8"),
    ({"op": "fill", "row": 0, "col": -1, "to": "80-19001"}, "outside"),
    ({"op": "set", "row": 0, "col": 0, "to": "C99"}, "not in the perler catalog"),
    ({"op": "clean", "size": 0}, "clean-up size must be at least 1"),
    ({"op": "convert", "brand": "dmc"}, "dmc is not a fuse beads catalog"),
    ({"op": "convert", "brand": "../x"}, "unknown catalog"),
    ({"op": "set", "row": "top"}, "row: Input should be a valid integer"),
])
def test_bad_edits_change_nothing(made, body, message):
    before = made.get("/api/pattern").json()
    assert message in error_of(made.post("/api/edit", json=body), 400)
    assert made.get("/api/pattern").json()["version"] == before["version"]


def test_excluding_every_color_is_refused(work):
    with client_for(work) as c:
        upload(c, _photo_bytes())
        state = c.post("/api/generate", json={**SMALL, "colors": 1}).json()
        only = state["palette"][0]["code"]
        assert "would leave none" in error_of(
            c.post("/api/edit", json={"op": "exclude", "code": only}), 400)


# --- downloads ---------------------------------------------------------------------------------
def test_files_zip_and_no_paths(made):
    listing = made.get("/api/files").json()
    names = [f["name"] for f in listing["files"]]
    assert names[0] == "pattern.json" and {"pattern.pdf", "preview.png", "all.zip"} <= set(names)
    pdf = made.get("/api/files/pattern.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert 'filename="pattern.pdf"' in pdf.headers["content-disposition"]
    state = made.get("/api/pattern").json()
    saved = load_bytes(made.get("/api/files/pattern.json").content)
    assert saved.cells.tolist() == state["cells"]
    with zipfile.ZipFile(io.BytesIO(made.get("/api/files/all.zip").content)) as zf:
        assert sorted(zf.namelist()) == sorted(n for n in names if n != "all.zip")
    for name in ("pattern.pes", "..%2Fpattern.json", "%2Fetc%2Fpasswd", "sessions.json"):
        r = made.get(f"/api/files/{name}")
        assert r.status_code == 404 and "error" in r.json()
    assert "no file 'pattern.pes'" in error_of(made.get("/api/files/pattern.pes"), 404)


def test_stitch_downloads_include_machine_files_and_follow_edits(work):
    with client_for(work) as c:
        upload(c, _photo_bytes())
        form = {**SMALL, "medium": "stitch", "formats": "dst,exp", "paper": "letter"}
        state = c.post("/api/generate", json=form).json()
        names = {f["name"] for f in c.get("/api/files").json()["files"]}
        assert {"pattern.dst", "pattern.exp", "pattern.pdf"} <= names
        code = state["palette"][0]["code"]
        c.post("/api/edit", json={"op": "set", "row": 0, "col": 0,
                                  "to": state["palette"][-1]["code"]})
        saved = load_bytes(c.get("/api/files/pattern.json").content)
        assert saved.meta["edits"][-1].startswith("set 1,1=")
        session_dirs = [p for p in work.iterdir()]
        assert len(session_dirs) == 1
        assert len(list(session_dirs[0].glob("files-*"))) == 1  # older exports removed
        assert code


# --- sessions ----------------------------------------------------------------------------------
def test_sessions_are_private_expire_and_are_cleaned_up(work):
    with client_for(work, max_sessions=2) as a:
        upload(a, _photo_bytes())
        a.post("/api/generate", json=SMALL)
        b = TestClient(a.app)
        for _ in range(40):  # the attack: cookieless GETs and failing POSTs
            assert b.get("/api/pattern").status_code == 204
            assert b.get("/api/preview.png").status_code == 409
            error_of(b.post("/api/edit", json={"op": "clean"}), 409)
        assert len(list(work.iterdir())) == 1 and "set-cookie" not in b.get("/api/pattern").headers
        stale = TestClient(a.app, cookies={"craftpix_session": "stale-after-restart"})
        assert stale.get("/api/pattern").status_code == 204
        assert len(list(work.iterdir())) == 1
        assert upload(b, _photo_bytes()).status_code == 200  # a successful change: a session
        assert len(list(work.iterdir())) == 2
        third = TestClient(a.app)
        assert "already serves 2 sessions" in error_of(upload(third, _photo_bytes()), 503)
        state = a.app.state.craftpix
        state.sessions.ttl_s = 0.0
        time.sleep(0.01)
        state.expire()
        assert list(work.iterdir()) == []
        assert a.get("/api/pattern").status_code == 204  # nothing left
    assert list(work.iterdir()) == []  # shutdown removes every session folder


def test_undo_history_is_compact_and_bounded(work):
    from craftpix.web.sessions import History

    with client_for(work) as c:
        upload(c, _photo_bytes())
        r = c.post("/api/generate", json={**SMALL, "width": 120, "height": 100})
        assert r.status_code == 200
        first = c.get("/api/pattern").json()["cells"]
        for i in range(10):
            to = c.get("/api/pattern").json()["palette"][i % 2]["code"]
            r = c.post("/api/edit", json={"op": "set", "row": i, "col": i, "to": to})
            assert r.status_code == 200
        session = next(iter(c.app.state.craftpix.sessions._sessions.values()))
        # 11 steps: uint8 frames and diffs, not 11 int64 copies (1 056 000 bytes)
        assert session.history.nbytes < 4 * 120 * 100
        for _ in range(10):
            assert c.post("/api/undo").status_code == 200
        assert c.get("/api/pattern").json()["cells"] == first
    rng = np.random.default_rng(3)
    from craftpix.pattern import pattern_from_indices

    pal = [f"{i:06x}" for i in range(300)]
    h = History(max_steps=60, max_bytes=3 * (200 * 200 * 2 + 600))
    for _ in range(8):
        cells = rng.integers(0, 300, (200, 200))
        h.push(pattern_from_indices(cells, pal, pal, ["#" + x for x in pal], "beads", "x"))
        assert h.nbytes <= h.max_bytes and h._steps[-1].frame.dtype == np.uint16
    assert len(h) == 3 and h.step(-2) and not h.step(-1)


def test_own_temp_folder_is_removed_at_shutdown():
    with TestClient(create_app()) as c:
        upload(c, _photo_bytes())
        root = c.app.state.craftpix.root
        assert root.is_dir() and any(root.iterdir())
    assert not root.exists()


def test_host_check_when_asked():
    with TestClient(create_app(WebSettings(allowed_hosts=("127.0.0.1",)))) as c:
        assert c.get("/api/options").status_code == 400  # Host: testserver
        assert c.get("/api/options", headers={"host": "127.0.0.1:8765"}).status_code == 200


# --- prompt jobs ---------------------------------------------------------------------------------
def fake_runner(request, conn, preview_every):
    """A job body for the queue's plumbing: progress, a step preview, then an outcome."""
    from craftpix.pattern import pattern_from_indices

    conn.send(("progress", "load", 0.0))
    conn.send(("progress", "engine", 0.1))
    folder = Path(request.out) / "progress"
    folder.mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 0, 0)).save(folder / "step-000002.png")
    if request.prompt == "wait":
        time.sleep(60)
    if request.prompt == "fail":
        conn.send(("error", "prompts need the diffusion engine (torch not installed): "
                            'pip install ".[diffusion]"'))
        return
    if request.prompt == "crash":
        raise SystemExit(3)
    w, h = request.size
    cells = (np.indices((h, w)).sum(axis=0) % 2)
    pattern = pattern_from_indices(cells, ["80-19001", "80-19018"], ["White", "Black"],
                                   ["#F1F1F1", "#2E2F32"], request.medium, "perler",
                                   {"prompt": request.prompt, "steps_seen": preview_every})
    conn.send(("done", pattern.to_json(), f"made {request.prompt}", ["a note"]))
    conn.close()


def wait_for(client, job_id, states=("done", "error", "cancelled"), timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = client.get(f"/api/jobs/{job_id}").json()
        if data["state"] in states:
            return data
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {data}")


def test_prompt_jobs_queue_progress_cancel_and_open(work):
    with client_for(work, max_jobs=2, runner=fake_runner) as c:
        assert "write what to make" in error_of(c.post("/api/jobs", json={**SMALL}), 400)
        assert "pick a photo first" in error_of(
            c.post("/api/jobs", json={**SMALL, "prompt": "rose", "use_image": True}), 400)
        assert "steps must be" in error_of(
            c.post("/api/jobs", json={**SMALL, "prompt": "rose", "steps": -1}), 400)
        job = c.post("/api/jobs", json={**SMALL, "prompt": "rose", "steps": 80}).json()
        assert job["state"] in ("queued", "running")
        done = wait_for(c, job["id"])
        assert done["state"] == "done" and done["fraction"] == 1.0 and done["preview"]
        png = c.get(f"/api/jobs/{job['id']}/preview.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        state = c.post(f"/api/jobs/{job['id']}/open").json()
        assert state["summary"] == "made rose" and state["notes"] == ["a note"]
        assert state["width"] == 8 and len(state["palette"]) == 2
        assert c.post("/api/edit", json={"op": "clean"}).status_code == 200

        slow = c.post("/api/jobs", json={**SMALL, "prompt": "wait", "steps": 80}).json()
        queued = c.post("/api/jobs", json={**SMALL, "prompt": "rose"}).json()
        assert "limit is 2" in error_of(c.post("/api/jobs", json={**SMALL, "prompt": "x"}),
                                        429)
        deadline = time.monotonic() + 60
        while c.get(f"/api/jobs/{slow['id']}").json()["fraction"] < 0.12 - 1e-9:
            assert time.monotonic() < deadline  # step 2 of 80, read from the step preview
            time.sleep(0.05)
        running = c.get(f"/api/jobs/{slow['id']}").json()
        assert running["state"] == "running" and running["stage"] == "engine"
        assert running["fraction"] == pytest.approx(0.1 + 0.8 * 2 / 80, abs=1e-4)
        assert c.get(f"/api/jobs/{queued['id']}").json()["state"] == "queued"  # one worker
        assert "is running, not done" in error_of(c.post(f"/api/jobs/{slow['id']}/open"), 409)
        gone = c.delete(f"/api/jobs/{slow['id']}").json()
        assert gone["state"] == "cancelled"
        assert wait_for(c, queued["id"])["state"] == "done"  # the queue moved on

        other = TestClient(c.app)
        assert "no prompt job" in error_of(other.get(f"/api/jobs/{queued['id']}"), 404)
        assert "no prompt job" in error_of(c.get("/api/jobs/nope"), 404)


def test_prompt_job_errors_are_the_api_lines(work):
    with client_for(work, runner=fake_runner) as c:
        failed = wait_for(c, c.post("/api/jobs", json={**SMALL, "prompt": "fail"}).json()["id"])
        assert failed["state"] == "error"
        assert failed["message"].endswith('pip install ".[diffusion]"')
        crashed = wait_for(c, c.post("/api/jobs", json={**SMALL, "prompt": "crash"}).json()["id"])
        assert crashed["message"] == "the prompt job stopped unexpectedly (exit code 3)"


def test_job_queue_time_limit(tmp_path):
    from craftpix.api import PatternRequest

    queue = JobQueue(max_jobs=1, workers=1, timeout_s=1.0, target=fake_runner, poll_s=0.05)
    try:
        req = PatternRequest(medium="beads", size=(4, 4), prompt="wait", out=tmp_path / "j")
        job = queue.submit("me", req, tmp_path / "j", steps=10)
        with pytest.raises(JobLimit):
            queue.submit("me", req, tmp_path / "k", steps=10)
        deadline = time.monotonic() + 60
        while queue.snapshot("me", job.id)["state"] != "error":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        snap = queue.snapshot("me", job.id)
        assert snap["message"] == "the prompt job was stopped after 1 s, the time limit"
        assert queue.active() == 0
    finally:
        queue.close()


def test_real_prompt_job_reports_what_to_pull(work, monkeypatch):
    """The real job body: without the models the API's one line says what to fetch."""
    pytest.importorskip("torch")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(work.parent / "hf-empty"))
    with client_for(work) as c:
        job = c.post("/api/jobs", json={**SMALL, "prompt": "a red rose", "steps": 2}).json()
        done = wait_for(c, job["id"], timeout=240)
    assert done["state"] == "error", done
    assert "craftpix models pull" in done["message"] and "\n" not in done["message"]


def test_an_expired_session_takes_its_jobs_along(work):
    with client_for(work, runner=fake_runner) as c:
        job = c.post("/api/jobs", json={**SMALL, "prompt": "wait"}).json()
        state = c.app.state.craftpix
        assert state.jobs.active() == 1
        state.sessions.ttl_s = 0.0
        time.sleep(0.01)
        state.expire()  # the janitor's sweep
        assert state.jobs.active() == 0
        assert "no prompt job" in error_of(c.get(f"/api/jobs/{job['id']}"), 404)


# --- the command -----------------------------------------------------------------------------------
def test_serve_command(monkeypatch):
    import uvicorn

    from craftpix.web import serve

    opened: list[str] = []
    seen: dict = {}

    def fake_run(self):
        seen["host"], seen["port"] = self.config.host, self.config.port
        seen["app"] = self.config.app
        self.started = True
        deadline = time.monotonic() + 10
        while len(opened) < seen.get("want", 1) and time.monotonic() < deadline:
            time.sleep(0.01)

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    monkeypatch.setattr(serve.webbrowser, "open", opened.append)
    res = CliRunner().invoke(main, ["serve", "--port", "8123"])
    assert res.exit_code == 0, res.output
    assert opened == ["http://127.0.0.1:8123/"] and (seen["host"], seen["port"]) == (
        "127.0.0.1", 8123)
    assert "running at http://127.0.0.1:8123/" in res.output
    assert seen["app"].state.settings.allowed_hosts == ("127.0.0.1", "localhost")

    seen["want"] = 0
    res = CliRunner().invoke(main, ["serve", "--no-browser", "--host", "0.0.0.0",
                                    "--max-upload-mb", "2"])
    assert res.exit_code == 0 and len(opened) == 1
    assert "other computers on the network" in res.output
    settings = seen["app"].state.settings
    assert settings.allowed_hosts is None and settings.max_upload_bytes == 2 * 1024 * 1024

    res = CliRunner().invoke(main, ["serve", "--port", "70000"])
    assert res.exit_code == 2 and "70000" in res.output and "Traceback" not in res.output
    assert serve.app_url("::1", 80) == "http://[::1]:80/"


def test_serve_reports_a_port_it_cannot_use(monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self: None)  # bind failed: never started
    res = CliRunner().invoke(main, ["serve", "--no-browser", "--port", "8124"])
    assert res.exit_code == 2
    assert res.output.strip().endswith("cannot listen on 127.0.0.1 port 8124 (in use, or not "
                                       "an address of this computer); try another --port")


def test_the_app_and_its_command_import_no_diffusion_stack():
    import subprocess
    import sys

    code = ("import sys, craftpix.cli, craftpix.web.app, craftpix.web.jobs; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'peft') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
