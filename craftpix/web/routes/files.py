"""Downloads: ``GET /api/files`` (export and list) and ``GET /api/files/{name}``."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from craftpix.web.state import ReadSessionDep, WebError
from craftpix.web.views import MEDIA_TYPES, ensure_export

router = APIRouter()


@router.get("/api/files")
def files(session: ReadSessionDep) -> dict[str, Any]:
    folder, names, notes = ensure_export(session)
    listed = [{"name": n, "bytes": (folder / n).stat().st_size, "url": f"/api/files/{n}"}
              for n in names]
    listed.append({"name": "all.zip", "bytes": None, "url": "/api/files/all.zip"})
    return {"version": session.version, "files": listed, "notes": notes}

@router.get("/api/files/{name}")
def file(name: str, session: ReadSessionDep) -> Response:
    folder, names, _ = ensure_export(session)
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
