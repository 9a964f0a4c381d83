"""Downloads: ``GET /api/files`` (export and list) and ``GET /api/files/{name}``."""

from __future__ import annotations

import functools
import io
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from craftpix.web.sessions import Session
from craftpix.web.state import AppState, ReadSessionDep, StateDep, WebError
from craftpix.web.views import MEDIA_TYPES, ensure_export

router = APIRouter()


def exported(session: Session, state: AppState) -> tuple[Path, list[str], list[str]]:
    """:func:`~craftpix.web.views.ensure_export` with the export in the app's export pool: a
    child process with a time limit, a few at once and one per session."""
    return ensure_export(session, functools.partial(state.exports.run, session.id))


@router.get("/api/files")
def files(session: ReadSessionDep, state: StateDep) -> dict[str, Any]:
    folder, names, notes = exported(session, state)
    listed = [{"name": n, "bytes": (folder / n).stat().st_size, "url": f"/api/files/{n}"}
              for n in names]
    listed.append({"name": "all.zip", "bytes": None, "url": "/api/files/all.zip"})
    return {"version": session.version, "files": listed, "notes": notes}


@router.get("/api/files/{name}")
def file(name: str, session: ReadSessionDep, state: StateDep) -> Response:
    folder, names, _ = exported(session, state)
    if name == "all.zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for n in names:
                zf.write(folder / n, n)
        return Response(buf.getvalue(), media_type="application/zip", headers={
            "Content-Disposition": 'attachment; filename="craftpix-pattern.zip"'})
    if name not in names:  # only names the export wrote: never a client path
        raise WebError(f"this pattern has no file {name!r}; it has {', '.join(names)}", 404)
    path = folder / name
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix,
                                                         "application/octet-stream"),
                        filename=name)
