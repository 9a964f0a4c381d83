"""Prompt jobs: queue, status, cancel, step preview, open the result."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from craftpix.engines.sds.settings import SDSSettings
from craftpix.errors import InputError
from craftpix.pattern import Pattern
from craftpix.web.forms import PromptForm, build_request, catalog_for
from craftpix.web.state import ReadSessionDep, SessionDep, SettingsDep, StateDep, WebError
from craftpix.web.views import pattern_state

PROMPT_PREVIEWS = 40  # step previews a prompt job writes over its run (progress)

#: the command a missing-model message names (:func:`craftpix.models.hub.locate` says
#: "fetch with `craftpix models pull --sdxl --depth` or `hf download …`")
PULL = re.compile(r"`craftpix models pull[^`]*`")


def job_view(data: dict[str, Any]) -> dict[str, Any]:
    """A job's snapshot for the page: a failure's ``message`` in plain words, one line (a
    model that is not downloaded: which command fetches it), and the whole message as
    ``detail`` when that says more."""
    if data.get("state") != "error" or not data.get("message"):
        return data
    full = str(data["message"])
    pull = PULL.search(full)
    if pull and ("not in the Hugging Face cache" in full or "downloads are off" in full):
        plain = f"the diffusion model is not downloaded: run {pull.group(0)}"
    else:
        plain = full.strip().splitlines()[0]
    return {**data, "message": plain, "detail": full if full.strip() != plain else None}

router = APIRouter()


@router.post("/api/jobs")
def submit_job(form: PromptForm, session: SessionDep, settings: SettingsDep,
               state: StateDep) -> dict[str, Any]:
    prompt = form.prompt.strip()
    if not prompt:
        raise InputError("write what to make (the prompt) first")
    folder = session.folder / "jobs" / secrets.token_hex(6)
    with session.lock:
        image = session.image.path if form.use_image and session.image is not None else None
        if form.use_image and image is None:
            raise InputError("pick a photo first, or untick 'use the photo'")
        sds = replace(settings.sds if settings.sds is not None else SDSSettings(),
                      quality=form.quality)
        request = build_request(session, form, image=image, prompt=prompt, engine="sds",
                                steps=form.steps, sds=sds, out=folder)
        request.validated()
        catalog = catalog_for(session, form, request)
    steps = sds.steps_for(form.steps)  # the preset's unless Steps is given
    job = state.jobs.submit(session.id, request, folder, steps,
                            preview_every=max(1, steps // PROMPT_PREVIEWS))
    with session.lock:
        session.job_catalogs[job.id] = (catalog, dict(request.export))
    return job_view(state.jobs.snapshot(session.id, job.id))

@router.get("/api/jobs/{job_id}")
def job_status(job_id: str, session: ReadSessionDep,
               state: StateDep) -> dict[str, Any]:
    return job_view(state.jobs.snapshot(session.id, job_id))

@router.delete("/api/jobs/{job_id}")
def cancel_job(job_id: str, session: SessionDep,
               state: StateDep) -> dict[str, Any]:
    state.jobs.cancel(session.id, job_id)
    return job_view(state.jobs.snapshot(session.id, job_id))

@router.get("/api/jobs/{job_id}/preview.png")
def job_preview(job_id: str, session: ReadSessionDep,
                state: StateDep) -> Response:
    path = state.jobs.get(session.id, job_id).preview()
    if path is None:
        raise WebError("the job has no preview yet", 404)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})

@router.post("/api/jobs/{job_id}/open")
def open_job(job_id: str, session: SessionDep,
             state: StateDep) -> dict[str, Any]:
    job = state.jobs.get(session.id, job_id)
    if job.state != "done" or job.result is None:
        raise WebError(f"the prompt job is {job.state}, not done", 409)
    text, summary, notes = job.result
    pattern = Pattern.from_json(text, source="prompt job")
    with session.lock:
        catalog, export = session.job_catalogs.get(job_id, (None, {}))
        session.catalog, session.form = catalog, {}
        session.start(pattern, export, summary, notes)
        return pattern_state(session)
