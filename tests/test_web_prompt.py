"""A real prompt job through the web app: the SDS engine on tiny random-weight models.

Kept apart from test_web_api.py so that the job children spawned there never import torch.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
from fastapi.testclient import TestClient  # noqa: E402

from craftpix.web import WebSettings, create_app  # noqa: E402

try:
    from tiny_models import tiny_paths, tiny_settings, write_palette_csv  # noqa: F401
except ImportError:  # tests/ imported as a package
    from tests.tiny_models import tiny_paths, tiny_settings, write_palette_csv  # noqa: F401


def test_prompt_job_runs_the_sds_engine_and_opens(tmp_path, tiny_paths):  # noqa: F811
    palette = write_palette_csv(tmp_path / "tiny.csv")
    settings = WebSettings(work_dir=tmp_path / "work", sds=tiny_settings(tiny_paths))
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/palette", files={"file": ("tiny.csv", palette.read_bytes())})
        assert r.status_code == 200 and r.json()["colors"] == 8
        form = {"medium": "beads", "width": 8, "height": 8, "palette": True, "colors": 4,
                "prompt": "a red rose", "steps": 4, "seed": 3}
        job = c.post("/api/jobs", json=form).json()
        deadline = time.monotonic() + 300
        while (data := c.get(f"/api/jobs/{job['id']}").json())["state"] in ("queued",
                                                                              "running"):
            assert time.monotonic() < deadline, data
            time.sleep(0.1)
        assert data["state"] == "done", data
        assert data["fraction"] == 1.0 and data["preview"]  # step previews were written
        assert c.get(f"/api/jobs/{job['id']}/preview.png").status_code == 200
        state = c.post(f"/api/jobs/{job['id']}/open").json()
        assert (state["width"], state["height"]) == (8, 8)
        assert {p["code"] for p in state["palette"]} <= {f"C{i}" for i in range(8)}
        assert len(state["palette"]) <= 4 and state["summary"].startswith("8×8 fuse beads")
        # the prompt's pattern is edited and exported like any other
        edited = c.post("/api/edit", json={"op": "set", "row": 0, "col": 0, "to": "C1"})
        assert edited.status_code == 200 and edited.json()["can_undo"]
        assert c.get("/api/files/pattern.pdf").content.startswith(b"%PDF")


@pytest.mark.parametrize("quality,steps", [("draft", 0), ("fine", 500)])
def test_prompt_jobs_offer_the_quality_presets(tmp_path, tiny_paths, quality, steps):  # noqa: F811
    """The page's Quality choice is the CLI's --quality: the job runs the preset's SDS steps
    (draft none, from a reference picture saved beside the pattern); Steps overrides it."""
    palette = write_palette_csv(tmp_path / "tiny.csv")
    sds = tiny_settings(tiny_paths, reference="auto", candidates=2, reference_steps=2)
    settings = WebSettings(work_dir=tmp_path / "work", sds=sds)
    with TestClient(create_app(settings)) as c:
        c.post("/api/palette", files={"file": ("tiny.csv", palette.read_bytes())})
        form = {"medium": "beads", "width": 8, "height": 8, "palette": True, "colors": 4,
                "prompt": "a red rose", "quality": quality, "seed": 3}
        if quality != "draft":
            form["steps"] = 2  # a CPU test: Steps overrides the preset's 500
        job = c.post("/api/jobs", json=form).json()
        assert job["steps"] == (0 if quality == "draft" else 2)
        if quality == "draft":
            deadline = time.monotonic() + 300
            while (data := c.get(f"/api/jobs/{job['id']}").json())["state"] in (
                    "queued", "running"):
                assert time.monotonic() < deadline, data
                time.sleep(0.1)
            assert data["state"] == "done", data
            assert list((tmp_path / "work").rglob("reference.png"))
            state = c.post(f"/api/jobs/{job['id']}/open").json()
            assert (state["width"], state["height"]) == (8, 8)
        bad = c.post("/api/jobs", json={**form, "quality": "best"})
        assert bad.status_code in (400, 422)
    from craftpix.engines.sds.settings import QUALITY
    assert QUALITY[quality].steps == steps


def test_a_prompt_job_never_downloads_a_model_that_was_not_pulled(tmp_path, monkeypatch):
    """With nothing pulled, a job from the page says which model is missing and how to pull
    it, in one line, without trying the Hub (downloads stay `craftpix models pull`'s)."""
    from craftpix.api import PatternRequest
    from craftpix.engines.sds.settings import SDSSettings
    from craftpix.models import hub
    from craftpix.web.jobs import run_job

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hub, "download", lambda *a, **k: pytest.fail("tried the Hub"))

    class Conn:
        sent: list = []

        def send(self, message):
            self.sent.append(message)

        def close(self):
            pass

    request = PatternRequest(medium="beads", size=(8, 8), prompt="a red rose", engine="sds",
                             sds=SDSSettings(device="cpu", dtype="fp32"))
    run_job(request, Conn())
    kind, message = Conn.sent[-1][:2]
    assert kind == "error" and "\n" not in message, Conn.sent[-1]
    assert "not in the Hugging Face cache" in message and "craftpix models pull" in message
