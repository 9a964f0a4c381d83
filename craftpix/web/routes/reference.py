"""Reference data: ``GET /api/options`` (crafts, catalogs, limits) and ``GET /api/catalog``."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter

from craftpix import __version__, api
from craftpix.color import hex_to_rgb8, pairwise_delta_e_2000, rgb8_to_lab
from craftpix.errors import InputError
from craftpix.media import DRILLS, MEDIA, get_medium
from craftpix.palette import available_palettes, load_palette
from craftpix.web.forms import brand_name, medium_of
from craftpix.web.sessions import Session
from craftpix.web.state import ReadSessionDep, SettingsDep, current
from craftpix.web.views import colors_json

router = APIRouter()


@router.get("/api/options")
def options(settings: SettingsDep) -> dict[str, Any]:
    from craftpix.export.embroidery import FORMATS

    crafts = [{"name": m.name, "title": m.title, "piece": m.piece, "brands": list(m.brands),
               "pitch_mm": m.pitch_mm, "sections": list(m.sections),
               "fabric_counts": list(m.fabric_counts),
               "default_fabric_count": m.default_fabric_count} for m in MEDIA.values()]
    return {"version": __version__, "crafts": crafts, "catalogs": available_palettes(),
            "fits": list(api.FITS), "formats": list(FORMATS), "papers": ["a4", "letter"],
            "parts": ["plate", "round", "tile"], "drills": dict(DRILLS),
            "limits": {"min_side": api.MIN_SIDE, "max_side": api.MAX_SIDE,
                       "max_upload_bytes": settings.max_upload_bytes,
                       "max_palette_bytes": settings.max_palette_bytes,
                       "max_pixels": settings.max_pixels, "max_jobs": settings.max_jobs,
                       "job_timeout_s": settings.job_timeout_s}}

@router.get("/api/catalog")
def catalog(session: ReadSessionDep, brand: str | None = None, all_finishes: bool = False,
            near: str | None = None) -> dict[str, Any]:
    """A catalog's colors; ``near`` (a code of the current pattern) orders them by
    CIEDE2000 distance from that color, closest first, each with its ``delta_e``."""
    data = catalog_colors(session, brand, all_finishes)
    if near is None:
        return data
    with session.lock:
        pattern = current(session)
    ref = next((c for c in pattern.palette if c.code == near), None)
    if ref is None:
        raise InputError(f"the pattern has no color {near!r}")
    colors = data["colors"]
    lab = rgb8_to_lab(np.array([hex_to_rgb8(c["hex"]) for c in colors], dtype=np.float64))
    dist = pairwise_delta_e_2000(rgb8_to_lab(np.array([ref.rgb8], dtype=np.float64)), lab)[0]
    order = np.argsort(dist, kind="stable")
    data["colors"] = [{**colors[i], "delta_e": round(float(dist[i]), 2)} for i in order]
    return data

def catalog_colors(session: Session, brand: str | None,
                    all_finishes: bool) -> dict[str, Any]:
    if brand:
        name = brand_name(brand)
        assert name is not None
        pal = load_palette(name)
        if not all_finishes:
            pal, _, _ = api.resolve_palette(get_medium(medium_of(name)), name, None, False)
        return {"name": name, "title": pal.title, "colors": colors_json(pal)}
    with session.lock:
        pattern = current(session)
        pal = session.catalog
    if pal is None:  # the pattern's own colors
        return {"name": pattern.brand, "title": pattern.brand,
                "colors": [{"code": c.code, "name": c.name, "hex": c.hex}
                           for c in pattern.palette]}
    return {"name": pal.name, "title": pal.title, "colors": colors_json(pal)}
