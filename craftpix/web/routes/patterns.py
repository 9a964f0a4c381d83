"""Making and editing: generate, the current pattern, its preview, edits, undo and redo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from craftpix import api
from craftpix.web.forms import EditBody, PatternForm, apply_edit, build_request, catalog_for
from craftpix.web.state import ReadSessionDep, SessionDep, StateDep, WebError, current
from craftpix.web.views import live_summary, pattern_state, png_response

router = APIRouter()


@router.post("/api/generate")
def generate(form: PatternForm, session: SessionDep,
             state: StateDep) -> dict[str, Any]:
    with session.lock:
        request = build_request(session, form)
        catalog = catalog_for(session, form, request)
    if not state.generations.acquire(timeout=60):
        raise WebError("the app is busy making other patterns; try again in a moment", 503)
    try:
        with session.generating:
            result = api.make_pattern(request)
    finally:
        state.generations.release()
    with session.lock:
        # a remake is one more undoable step: Undo brings back the pattern (and its edits)
        session.catalog, session.form = catalog, form.model_dump()
        session.start(result.pattern, dict(request.export), result.summary, result.notes,
                      keep_history=True)
        return pattern_state(session)

@router.get("/api/pattern", response_model=None)
def get_pattern(session: ReadSessionDep) -> dict[str, Any] | Response:
    """The current pattern; ``204 No Content`` when there is none yet (a fresh page load
    asks this first, and that is not an error)."""
    with session.lock:
        if session.pattern is None:
            return Response(status_code=204)
        return pattern_state(session)

@router.get("/api/preview.png")
def preview(session: ReadSessionDep, style: str = "craft") -> Response:
    from craftpix.export.preview import render_preview

    with session.lock:
        pattern = current(session)
        fabric, part = session.export.get("fabric_count"), session.export.get("part")
    return png_response(render_preview(pattern, style, fabric_count=fabric, part=part or "plate"))

@router.post("/api/edit")
def edit_pattern(body: EditBody, session: SessionDep) -> dict[str, Any]:
    with session.lock:
        pattern = current(session)
        new, catalog = apply_edit(pattern, body, session.catalog)
        session.catalog = catalog
        if body.op == "convert" and session.form:
            session.form = {**session.form, "brand": new.brand, "palette": False}
        session.summary = live_summary(new)  # what the screen says follows every edit
        session.push(new)
        return pattern_state(session)

@router.post("/api/undo")
def undo(session: SessionDep) -> dict[str, Any]:
    with session.lock:
        current(session)
        if not session.step(-1):
            raise WebError("there is nothing to undo", 409)
        return pattern_state(session)

@router.post("/api/redo")
def redo(session: SessionDep) -> dict[str, Any]:
    with session.lock:
        current(session)
        if not session.step(+1):
            raise WebError("there is nothing to redo", 409)
        return pattern_state(session)
