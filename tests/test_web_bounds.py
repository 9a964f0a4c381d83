"""The web app against the attacks of issue #24, each replayed as it was made.

Who may ask (Host allow-list, launch token, same-origin state changes, session rotation), how
much (meta, decoding and exports in children with time limits, fair between sessions), and
how the server ends (Ctrl-C during an export, prompt jobs with a killed server, stale work
folders, disk errors). Real servers run as `craftpix serve` subprocesses on a free port.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from craftpix.web import WebSettings, create_app  # noqa: E402
from craftpix.web.jobs import Busy, WorkFailed, WorkPool, WorkTimeout  # noqa: E402
from craftpix.web.security import hosts_for_bind, is_loopback, split_host  # noqa: E402
from craftpix.web.sessions import LOCK_NAME, clean_stale_work_dirs, new_work_dir  # noqa: E402
from craftpix.web.state import COOKIE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"medium": "beads", "width": 8, "height": 8, "colors": 3, "seed": 1}


def photo(size: tuple[int, int] = (40, 32), fmt: str = "PNG", seed: int = 11) -> bytes:
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.full((h, w, 3), 0.85)
    img[: h // 2, : w // 2] = [0.8, 0.1, 0.1]
    img[h // 2:, w // 2:] = [0.1, 0.3, 0.8]
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((img * 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def upload(c: TestClient, data: bytes, path: str = "/api/image", name: str = "p.png", **kw):
    return c.post(path, files={"file": (name, data, "application/octet-stream")}, **kw)


def error_of(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(WebSettings(work_dir=tmp_path / "work"))) as c:
        yield c


# --- 1. Host allow-list and launch token ---------------------------------------------------------
@pytest.mark.parametrize("bind", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "0.0.0.0", "::"])
def test_dns_rebinding_host_is_refused_on_every_bind(bind):
    with TestClient(create_app(WebSettings(allowed_hosts=hosts_for_bind(bind)))) as c:
        r = c.get("/api/options", headers={"host": "evil.example"})
        assert "does not answer for the address 'evil.example'" in error_of(r, 403)
        assert error_of(c.get("/", headers={"host": "evil.example:8765"}), 403)
        own = {"127.0.0.2": "127.0.0.2:8765", "::1": "[::1]:8765"}.get(bind, "localhost:8765")
        assert c.get("/api/options", headers={"host": own}).status_code == 200
        assert c.get("/api/options", headers={"host": "[::1]:80"}).status_code == 200
        lan = c.get("/api/options", headers={"host": "192.168.1.20:8765"}).status_code
        assert lan == (403 if is_loopback(bind) else 200)  # IP literals cannot be rebound


def test_host_header_parsing():
    assert split_host("[::1]:8765") == ("::1", 8765)
    assert split_host("LocalHost.") == ("localhost", None)
    assert split_host("127.0.0.2:80") == ("127.0.0.2", 80)
    assert split_host("::1") == ("", None) and split_host("a:b") == ("", None)
    assert is_loopback("127.3.4.5") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_launch_token_sets_a_cookie_and_guards_every_request(tmp_path):
    settings = WebSettings(work_dir=tmp_path, launch_token="s3cret-token",
                           allowed_hosts=(*hosts_for_bind("0.0.0.0"), "testserver"))
    with TestClient(create_app(settings), follow_redirects=False) as c:
        assert "launch token" in error_of(c.get("/api/options"), 403)
        assert error_of(upload(c, photo()), 403)
        assert error_of(c.get("/?token=wrong"), 403)
        r = c.get("/?token=s3cret-token&x=1")
        assert r.status_code == 303 and r.headers["location"] == "/?x=1"
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers[
            "set-cookie"]
        assert c.get("/api/options").status_code == 200  # the cookie now
        assert upload(c, photo()).status_code == 200


def _serve(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`craftpix serve --port 0 --no-browser ARGS` in a subprocess; (process, printed URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from craftpix.cli import main; main()", "serve", "--port", "0",
         "--no-browser", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"running at (\S+)", line)
    if m is None:
        proc.kill()
        raise AssertionError(f"no address printed: {line!r} {proc.stderr.read()!r}")
    return proc, m.group(1)


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    return proc.stderr.read()


def _get(url: str, host: str | None = None) -> int:
    import http.cookiejar

    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(
        http.cookiejar.CookieJar()))  # a browser: the redirect's cookie comes along
    try:
        with opener.open(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serve_on_127_0_0_2_checks_host_and_does_not_warn():
    proc, url = _serve("--host", "127.0.0.2")
    try:
        assert url.startswith("http://127.0.0.2:") and "token" not in url
        assert _get(url + "api/options") == 200
        assert _get(url + "api/options", host="evil.example") == 403
    finally:
        err = _stop(proc)
    assert "warning" not in err and "network" not in err


def test_serve_on_all_addresses_prints_a_launch_token_once():
    proc, url = _serve("--host", "0.0.0.0")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{20,}", url)
        base = url.split("?")[0]
        assert _get(base + "api/options") == 403  # no token
        assert _get(url.replace("?token=", "api/options?token=")) == 200  # redirect + cookie
        assert _get(url, host="evil.example") == 403
    finally:
        err = _stop(proc)
    assert "other computers on the network" in err and url.split("=")[1] not in err


# --- 2. same-origin state changes, session rotation --------------------------------------------
def _pattern_json(size: int = 4) -> bytes:
    from craftpix.pattern import pattern_from_indices

    cells = np.indices((size, size)).sum(axis=0) % 2
    return pattern_from_indices(cells, ["P01", "P02"], ["White", "Cream"],
                                ["#f1f1f1", "#e0dea9"], "beads", "perler").to_json().encode()


def test_another_local_port_cannot_post_with_the_users_cookie(client):
    assert upload(client, photo()).status_code == 200
    before = client.post("/api/generate", json=SMALL).json()
    client.post("/api/edit", json={"op": "clean"})
    own = client.base_url  # http://testserver
    attacks = [{"origin": "http://127.0.0.1:9999"}, {"origin": "http://testserver:8080"},
               {"origin": "null"}, {"sec-fetch-site": "same-site"},
               {"sec-fetch-site": "cross-site"}]
    for headers in attacks:
        r = upload(client, _pattern_json(), path="/api/pattern", headers=headers)
        assert "another web page" in error_of(r, 403), headers
        assert error_of(client.post("/api/undo", headers=headers), 403)
        assert error_of(client.delete("/api/palette", headers=headers), 403)
    after = client.get("/api/pattern").json()
    assert after["cells"] == before["cells"] and after["can_undo"]  # nothing replaced
    ok = client.post("/api/undo", headers={"origin": str(own).rstrip("/"),
                                            "sec-fetch-site": "same-origin"})
    assert ok.status_code == 200
    assert client.get("/api/pattern", headers={"sec-fetch-site": "cross-site"}).status_code \
        == 200  # reading is not a state change (and the cookie is SameSite=Strict)


def test_a_planted_session_token_cannot_read_the_victims_pattern(tmp_path):
    app = create_app(WebSettings(work_dir=tmp_path / "w"))
    with TestClient(app) as attacker:  # one running app, two browsers
        victim = TestClient(app)
        assert upload(attacker, photo(seed=1)).status_code == 200  # the planter's own photo
        planted = attacker.cookies[COOKIE]
        victim.cookies.set(COOKIE, planted)  # e.g. document.cookie from another local port
        r = upload(victim, photo(seed=2))
        rotated = r.cookies[COOKIE]  # the upload named a new token
        assert r.status_code == 200 and rotated and rotated != planted
        victim.cookies.clear()
        victim.cookies.set(COOKIE, rotated)
        assert victim.post("/api/generate", json=SMALL).status_code == 200
        attacker.cookies.set(COOKIE, planted)
        assert attacker.get("/api/pattern").status_code == 204  # no pattern in its session
        assert attacker.get("/api/files").status_code == 409
        # a new session's first upload keeps its fresh token (one Set-Cookie)
        r = upload(TestClient(app), photo())
        assert len(r.headers.get_list("set-cookie")) == 1


def test_a_session_at_work_is_never_evicted(tmp_path):
    from craftpix.web.sessions import SessionStore, TooManySessions

    store = SessionStore(tmp_path, max_sessions=2, ttl_s=3600, max_history=5)
    uploading = store.create()  # its first upload still decoding: empty, but in use
    idle = store.create()
    store.release(idle)
    third = store.create()  # evicts the idle empty one, not the one at work
    assert store.get(idle.token) is None and store.get(uploading.token) is uploading
    assert uploading.folder.is_dir() and not idle.folder.exists()
    with pytest.raises(TooManySessions):
        store.create()  # both slots at work
    store.release(uploading)
    store.release(third)
    assert store.create() and len(store) == 2


def test_twice_the_session_limit_uploading_at_once_gives_no_500(tmp_path):
    app = create_app(WebSettings(work_dir=tmp_path, max_sessions=4))
    data = photo()
    with TestClient(app):
        statuses: list[int] = []

        def one() -> None:
            statuses.append(upload(TestClient(app), data).status_code)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert 500 not in statuses and statuses.count(200) >= 4, statuses
    assert set(statuses) <= {200, 503}


# --- 3. bounds: meta, pools, limits --------------------------------------------------------------
def test_a_pattern_with_two_million_edits_is_refused(client):
    doc = json.loads(_pattern_json())
    doc["meta"] = {"edits": ["set 0,0 = P1"] * 2_100_000}
    data = json.dumps(doc, separators=(",", ":")).encode()
    assert len(data) < 32 * 1024 * 1024
    with TestClient(create_app(WebSettings(max_pattern_bytes=40 * 1024 * 1024))) as c:
        msg = error_of(upload(c, data, path="/api/pattern"), 400)
    assert "'meta' is too large (2100000 edits listed)" in msg and "limit is 64 KB" in msg
    doc["meta"] = {"edits": ["set 0,0 = P1"] * 100}
    assert upload(client, json.dumps(doc).encode(), path="/api/pattern").status_code == 200


def _stamp(seconds: float) -> tuple[float, float]:
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


def test_one_session_cannot_hold_both_slots():
    pool = WorkPool("testing", slots=2, timeout_s=30)
    out: dict[str, object] = {}

    def go(key: str, owner: str, delay: float) -> None:
        time.sleep(delay)
        try:
            out[key] = pool.run(owner, _stamp, 0.6)
        except Busy as exc:
            out[key] = exc

    threads = [threading.Thread(target=go, args=a) for a in
               [("a1", "A", 0), ("a2", "A", 0.05), ("a3", "A", 0.1), ("b1", "B", 0.2)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a1, a2, b1 = out["a1"], out["a2"], out["b1"]
    assert isinstance(out["a3"], Busy) and out["a3"].status == 429  # a third of one session
    assert a2[0] >= a1[1] - 0.01  # the second of A waited for A's first ...
    assert b1[0] < a1[1]  # ... while B ran next to it: A never held both slots


def test_work_over_its_time_limit_is_killed():
    import psutil

    def alive() -> set[int]:  # children of this process (other tests may have left some)
        return {p.pid for p in psutil.Process().children()
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE}

    before = alive()
    pool = WorkPool("testing", slots=1, timeout_s=0.5)
    t0 = time.monotonic()
    with pytest.raises(WorkTimeout, match="longer than 0.5 s"):
        pool.run("A", time.sleep, 30)
    assert time.monotonic() - t0 < 3
    assert not alive() - before  # the work child was killed, not left behind
    assert pool.run("A", _stamp, 0)[1] >= 0  # the slot is free again
    with pytest.raises(WorkFailed, match="stopped unexpectedly"):
        pool.run("A", os._exit, 3)  # a child that dies without an answer
    assert not pool._owners and not pool._running  # nothing kept for sessions gone


def test_unknown_brick_part_is_400_and_a_huge_value_is_not_logged(client, caplog):
    assert upload(client, photo()).status_code == 200
    huge = "x" * 20_000_000
    with caplog.at_level(logging.INFO):
        r = client.post("/api/generate", json={**SMALL, "medium": "bricks", "part": huge})
    msg = error_of(r, 400)
    assert msg.startswith("unknown brick part 'xxx") and len(r.content) < 400
    assert len(caplog.text) < 10_000
    assert client.post("/api/generate", json={**SMALL, "medium": "bricks",
                                              "part": "tile"}).status_code == 200


def test_a_500_is_logged_in_short_lines(tmp_path, caplog, monkeypatch):
    from craftpix.web import jobs

    def boom(request):
        raise KeyError("y" * 5_000_000)

    monkeypatch.setattr(jobs, "make_checked", boom)
    monkeypatch.setattr("craftpix.web.routes.patterns.make_checked", boom)
    app = create_app(WebSettings(work_dir=tmp_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert upload(client, photo()).status_code == 200
        with caplog.at_level(logging.ERROR, logger="craftpix.web"):
            r = client.post("/api/generate", json=SMALL)
    assert "internal error (KeyError)" in error_of(r, 500)
    assert "KeyError" in caplog.text and len(caplog.text) < 20_000


def test_pes_color_limit_is_checked_at_generate(client):
    rng = np.random.default_rng(5)
    noisy = Image.fromarray(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8))
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    assert upload(client, buf.getvalue()).status_code == 200
    form = {"medium": "stitch", "width": 30, "height": 30, "colors": 400, "formats": "pes",
            "hoop": "200x200mm"}
    msg = error_of(client.post("/api/generate", json=form), 400)
    assert "PES files hold at most 255 thread colors" in msg
    assert client.get("/api/pattern").status_code == 204  # nothing half-made was kept


def test_phone_mpo_jpeg_is_accepted(client):
    a = Image.open(io.BytesIO(photo((48, 36))))
    b = a.resize((24, 18))
    buf = io.BytesIO()
    a.save(buf, "MPO", save_all=True, append_images=[b])
    assert Image.open(io.BytesIO(buf.getvalue())).format == "MPO"
    r = upload(client, buf.getvalue(), name="IMG_0001.JPG")
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "MPO" and (r.json()["width"], r.json()["height"]) == (48, 36)
    assert client.post("/api/generate", json=SMALL).status_code == 200


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(
        b"IEND", b"")


@pytest.mark.parametrize("size", [(8000, 6000), (12000, 10000), (20000, 20000)])
def test_an_image_over_the_pixel_limit_is_too_large_not_unreadable(client, size):
    msg = error_of(upload(client, _png_header(*size)), 400)
    mp = size[0] * size[1] / 1e6
    assert msg.startswith(f"the image is too large ({size[0]}×{size[1]} pixels)"
                          if mp < 89 else f"the image is too large ({mp:.0f} megapixels)"), msg
    assert "limit is 40 megapixels" in msg


def test_decoding_runs_in_a_child(client, monkeypatch):
    seen: list[int] = []
    from craftpix.web import uploads

    real = uploads.sniff_image

    def sniff(data, max_pixels):
        seen.append(os.getpid())
        return real(data, max_pixels)

    monkeypatch.setattr("craftpix.web.routes.uploads.sniff_image", sniff)
    assert upload(client, photo()).status_code == 200
    assert seen == []  # it ran in the forked child: this process's list never grew
    assert client.app.state.craftpix.decoding.running == 0


# --- 4. Ctrl-C and SIGTERM while an export runs --------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_server_stops_within_2_s_while_an_export_runs(sig):
    import http.cookiejar

    import psutil

    proc, url = _serve()
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        boundary = "craftpixboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=p.png\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + photo((120, 120)) + \
            f"\r\n--{boundary}--\r\n".encode()
        opener.open(urllib.request.Request(url + "api/image", body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"}), timeout=60)
        form = {"medium": "stitch", "width": 250, "height": 250, "colors": 12,
                "formats": "dst", "hoop": "500x500mm"}
        opener.open(urllib.request.Request(url + "api/generate", json.dumps(form).encode(),
                                           headers={"Content-Type": "application/json"}),
                    timeout=120)
        result: dict[str, object] = {}

        def download() -> None:
            try:
                opener.open(url + "api/files", timeout=60)
                result["status"] = 200
            except urllib.error.HTTPError as exc:
                result["status"] = exc.code
            except OSError as exc:
                result["status"] = type(exc).__name__

        t = threading.Thread(target=download, daemon=True)
        t.start()
        server = psutil.Process(proc.pid)
        deadline = time.monotonic() + 30
        while not server.children():  # the export's child process has started
            assert time.monotonic() < deadline and t.is_alive()
            time.sleep(0.02)
        time.sleep(0.3)
        children = server.children(recursive=True)
        t0 = time.monotonic()
        proc.send_signal(sig)
        proc.wait(10)
        took = time.monotonic() - t0
        t.join(10)
    finally:
        _stop(proc)
    print(f"stopped {took:.2f} s after the signal")
    assert took < 2.0, took
    assert "status" in result and result.get("status") != 200  # the export was cut short
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


# --- 5. prompt jobs, stale folders, disk errors ---------------------------------------------------
SLOW_JOB_SERVER = """
import sys, time, uvicorn
from craftpix.web import WebSettings, create_app
sys.path.insert(0, {tests!r})
from test_web_bounds import slow_runner
app = create_app(WebSettings(work_dir={work!r}), runner=slow_runner)
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="critical")
"""


def slow_runner(request, conn, preview_every):  # a prompt job's body that takes a minute
    conn.send(("progress", "engine", 0.1))
    time.sleep(60)


def test_prompt_job_dies_with_a_killed_server(tmp_path):
    import socket

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = SLOW_JOB_SERVER.format(tests=str(ROOT / "tests"), work=str(tmp_path / "w"), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "api/options", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        req = urllib.request.Request(base + "api/jobs", json.dumps(
            {**SMALL, "prompt": "a red rose"}).encode(), headers={"Content-Type":
                                                                   "application/json"})
        import http.cookiejar

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(
            http.cookiejar.CookieJar()))
        job_id = json.loads(opener.open(req, timeout=30).read())["id"]
        server = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while not (kids := [c for c in server.children()  # not the resource tracker
                            if "spawn_main" in " ".join(c.cmdline())]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        job = kids[0]
        while json.loads(opener.open(f"{base}api/jobs/{job_id}", timeout=30).read())[
                "stage"] != "engine":  # the runner has started (past the child's start-up)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.kill()  # kill -9: no clean-up in the server
        proc.wait(10)
        alive = psutil.wait_procs([job], timeout=3)[1]
        for p in alive:  # (only when the test fails) leave nothing behind
            p.kill()
        assert not alive, "the prompt job outlived the server"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stale_work_folders_are_removed_at_start(tmp_path, monkeypatch):
    import fcntl
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / "craftpix-web-dead1"  # a server killed with its lock released
    (stale / "s-1" / "jobs" / "j1").mkdir(parents=True)
    (stale / LOCK_NAME).touch()
    (stale / "s-1" / "photo-1.png").write_bytes(b"x" * 1000)
    old = tmp_path / "craftpix-web-old"  # an older version's, days old, without a lock file
    old.mkdir()
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    young = tmp_path / "craftpix-web-young"  # no lock file, but recent: perhaps alive
    young.mkdir()
    live = tmp_path / "craftpix-web-live"  # a running server holds its lock
    live.mkdir()
    held = open(live / LOCK_NAME, "a+b")  # noqa: SIM115
    fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    other = tmp_path / "unrelated"
    other.mkdir()
    from craftpix.web.jobs import PID_FILE, _start_time

    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    deadline = time.monotonic() + 10
    while not _start_time(orphan.pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (stale / "s-1" / "jobs" / "j1" / PID_FILE).write_text(
        f"{orphan.pid} {_start_time(orphan.pid)}\n")  # a job that outlived its server
    (stale / "s-1" / "jobs" / "j2").mkdir()
    (stale / "s-1" / "jobs" / "j2" / PID_FILE).write_text(f"{os.getpid()} 1\n")  # pid reused
    try:
        with TestClient(create_app(WebSettings())) as c:
            root = c.app.state.craftpix.root
            assert root.parent == tmp_path and (root / LOCK_NAME).exists()
            assert not stale.exists() and not old.exists()
            assert young.exists() and live.exists() and other.exists()
            assert orphan.wait(5) == -signal.SIGKILL  # killed; this process was spared
            assert clean_stale_work_dirs(tmp_path) == []  # its own folder is locked
        assert not root.exists()
    finally:
        held.close()
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
    assert clean_stale_work_dirs(tmp_path) == [live]
    root, lock = new_work_dir(tmp_path)
    lock.close()
    assert root.name.startswith("craftpix-web-")


def test_full_disk_keeps_the_previous_photo_and_says_so_in_one_line(client, monkeypatch):
    from craftpix.web import uploads

    first = photo(seed=1)
    assert upload(client, first).status_code == 200
    session = next(iter(client.app.state.craftpix.sessions._sessions.values()))
    kept = session.image.path
    real_open = open

    class FullDisk:
        def __init__(self, path, mode):
            self.f = real_open(path, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads, "open", FullDisk, raising=False)
    r = upload(client, photo((400, 300), seed=2))
    assert "disk is full" in error_of(r, 507)
    assert session.image.path == kept and kept.read_bytes() == first
    assert not list(session.folder.glob(".*part"))  # no partial file left
    monkeypatch.undo()
    assert client.post("/api/generate", json=SMALL).status_code == 200  # the old photo


def test_deleted_work_folder_is_made_again(client):
    import shutil

    assert upload(client, photo()).status_code == 200
    assert client.post("/api/generate", json=SMALL).status_code == 200
    root = client.app.state.craftpix.root
    shutil.rmtree(root)
    assert client.get("/api/files").status_code == 200  # the session's folder again
    assert upload(client, photo(seed=4)).status_code == 200
    other = TestClient(client.app)  # a new session too (the same running app)
    if True:
        assert upload(other, photo()).status_code == 200
