"""Making and editing: generate, the current pattern, its preview, edits, undo and redo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from craftpix.web.forms import EditBody, PatternForm, apply_edit, build_request, catalog_for
from craftpix.web.jobs import make_checked
from craftpix.web.state import ReadSessionDep, SessionDep, StateDep, WebError, current
from craftpix.web.views import (
    CONVERT_NOTE,
    convert_note,
    live_summary,
    pattern_state,
    png_response,
)

router = APIRouter()


@router.post("/api/generate")
def generate(form: PatternForm, session: SessionDep,
             state: StateDep) -> dict[str, Any]:
    with session.lock:
        request = build_request(session, form)
        catalog = catalog_for(session, form, request)
    # in a child process with a time limit, a few at once and one per session; what the
    # export would refuse (PES colors, an unknown part) is refused here, not at download
    result = state.generations.run(session.id, make_checked, request)
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
        if body.op == "convert":  # its note, in place of an earlier conversion's
            note = convert_note(new)
            session.notes = [n for n in session.notes if not str(n).startswith(CONVERT_NOTE)]
            if note:
                session.notes.append(note)
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
