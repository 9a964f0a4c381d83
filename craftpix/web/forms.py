"""What the browser sends to make or edit a pattern, and how it becomes library calls.

The pydantic bodies of ``POST generate``, ``POST jobs`` and ``POST edit``, and the functions
that turn them into a :class:`~craftpix.api.PatternRequest` or a :mod:`craftpix.edit` call.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from craftpix import api, edit
from craftpix.errors import InputError
from craftpix.media import MEDIA, get_medium
from craftpix.palette import Palette, available_palettes
from craftpix.pattern import Pattern
from craftpix.web.sessions import Session


class PatternForm(BaseModel):
    """The photo form: one field per :class:`~craftpix.api.PatternRequest` setting.

    ``palette`` uses the uploaded palette file instead of ``brand``; the export fields are
    those of ``craftpix beads|bricks|stitch`` (same names, same defaults).
    """

    model_config = ConfigDict(extra="forbid")

    medium: str = "beads"
    width: int | None = 48  # None: follows the photo's shape (``--size x60``)
    height: int | None = 48  # None: follows the photo's shape (``--size 48x``)
    brand: str | None = None
    palette: bool = False
    colors: int | None = None
    all_finishes: bool = False
    fit: str = "crop"
    smooth: float | None = None
    dither: bool = False
    seed: int = 0
    paper: str = "a4"
    formats: str | None = None
    hoop: str | None = None  # None: the smallest preset hoop that fits
    merge: bool = False
    part: str = "plate"
    section: int | None = None
    fabric_count: int | None = None
    strands: int | None = None
    drill: str | None = None  # diamond painting: square or round (None: square)


class PromptForm(PatternForm):
    """A prompt job: the photo form plus the prompt, steps, and whether to use the photo."""

    prompt: str = ""
    #: the ``--quality`` preset (craftpix.engines.sds.settings.QUALITY): draft, fine, paper
    quality: Literal["draft", "fine", "paper"] = "fine"
    steps: int | None = None  # None: the preset's
    use_image: bool = False


#: most cells one paint stroke (``set`` with ``cells``) may change
MAX_STROKE = 4096


class EditBody(BaseModel):
    """One edit of :mod:`craftpix.edit`; rows and columns count from 0 at the top left.

    ``set`` takes one cell (``row``, ``col``) or a stroke (``cells``: ``[[row, col], ...]``,
    at most :data:`MAX_STROKE`), which is one undo step.
    """

    model_config = ConfigDict(extra="forbid")

    op: str
    code: str | None = None  # the color acted on (replace, exclude)
    to: str | None = None  # the new color (replace, set, fill)
    row: int | None = None
    col: int | None = None
    cells: list[tuple[int, int]] | None = Field(None, max_length=MAX_STROKE)
    size: int = 1  # clean: largest stray region absorbed, in cells
    brand: str | None = None  # convert: the new catalog


def brand_name(name: str | None) -> str | None:
    """A built-in catalog name, or None; never a path (a name with a suffix or a slash)."""
    if name is None or not name.strip():
        return None
    name = name.strip().lower()
    known = available_palettes()
    if name not in known:
        raise InputError(f"unknown catalog {name!r}; available: {', '.join(known)}")
    return name


def export_kwargs(form: PatternForm) -> dict[str, Any]:
    """The export keyword arguments the CLI passes for the same options."""
    section = form.section
    if (form.medium in MEDIA and section in MEDIA[form.medium].sections
            and section not in get_medium(form.medium, form.brand).sections):
        section = None  # the page offers the midi board; a mini bead line has its own
    settings = {"pdf": True, "paper": form.paper, "formats": form.formats, "hoop": form.hoop,
                "merge": form.merge, "part": form.part, "section": section,
                "fabric_count": form.fabric_count, "strands": form.strands,
                "drill": form.drill if form.medium == "diamond" else None}
    return {k: v for k, v in settings.items() if v is not None}


def form_size(form: PatternForm) -> tuple[int, int] | str | None:
    """The request's ``size``: both sides as given, or the given side with the other one
    following the photo (``"48x"``, ``"x60"``, as ``--size`` takes them); None: the default."""
    if form.width is not None and form.height is not None:
        return (form.width, form.height)
    if form.width is not None:
        return f"{form.width}x"
    if form.height is not None:
        return f"x{form.height}"
    return None


def build_request(session: Session, form: PatternForm, **more: Any) -> api.PatternRequest:
    """The :class:`~craftpix.api.PatternRequest` a form describes (the session's files)."""
    from craftpix.export.options import export_settings

    if form.palette and session.palette is None:
        raise InputError("upload a palette file first (or choose a catalog)")
    image = more.pop("image", session.image.path if session.image is not None else None)
    return api.PatternRequest(
        medium=form.medium, size=form_size(form), image=image,
        brand=brand_name(form.brand), palette=session.palette.path if form.palette and
        session.palette is not None else None, colors=form.colors,
        all_finishes=form.all_finishes, fit=form.fit, smooth=form.smooth, dither=form.dither,
        seed=form.seed, export=export_settings(export_kwargs(form)), **more)


def catalog_for(session: Session, form: PatternForm, request: api.PatternRequest) -> Palette:
    """The catalog edits may take new colors from: the one the pattern was made from."""
    request = request.validated()  # the API's messages first
    if form.palette and session.palette_value is not None:
        return session.palette_value
    part = request.export.get("part") if request.medium == "bricks" else None
    pal, _, _ = api.resolve_palette(get_medium(request.medium), request.brand, None,
                                    request.all_finishes, part)
    return pal


def medium_of(brand: str) -> str:
    """The craft a built-in catalog belongs to (for its finish filter)."""
    return next((m.name for m in MEDIA.values() if brand in m.brands), "beads")


def apply_edit(pattern: Pattern, body: EditBody, catalog: Palette | None
          ) -> tuple[Pattern, Palette | None]:
    """Apply one :mod:`craftpix.edit` operation; returns the pattern and the catalog after."""
    op = body.op

    def need(*names: str) -> None:
        missing = [n for n in names if getattr(body, n) is None]
        if missing:
            raise InputError(f"the {op} edit needs {' and '.join(repr(n) for n in missing)}")

    if op == "replace":
        need("code", "to")
        return edit.replace(pattern, {str(body.code): body.to}, catalog), catalog
    if op == "exclude":
        need("code")
        return edit.exclude(pattern, [str(body.code)]), catalog
    if op == "set" and body.cells is not None:
        need("to")
        return paint_stroke(pattern, body.cells, body.to, catalog), catalog
    if op in ("set", "fill"):
        need("row", "col", "to")
        fn = edit.set_cell if op == "set" else edit.fill
        return fn(pattern, int(body.row or 0), int(body.col or 0), body.to, catalog), catalog
    if op == "clean":
        return edit.clean(pattern, body.size), catalog
    if op == "convert":
        need("brand")
        name = brand_name(body.brand)
        assert name is not None
        medium = get_medium(pattern.medium)
        if name not in medium.brands:
            raise InputError(f"{name} is not a {medium.title} catalog; choose one of "
                             f"{', '.join(medium.brands)}")
        new_catalog, _, _ = api.resolve_palette(medium, name, None, False)
        return edit.convert(pattern, new_catalog, name), new_catalog
    raise InputError(f"unknown edit {op!r}; choose replace, exclude, set, fill, clean or convert")




def paint_stroke(pattern: Pattern, cells: list[tuple[int, int]], code: str | None,
                 catalog: Palette | None) -> Pattern:
    """Paint the cells of one stroke (0-based ``(row, col)``, repeats ignored) with ``code``
    (``None``: empty), as one pattern change.

    The result is that of :func:`craftpix.edit.set_cell` applied cell by cell (the edit list
    names each cell as ``craftpix edit --set ROW,COL=CODE`` does, counted from 1), computed in
    two ``set_cell`` calls whatever the stroke's length: the first resolves the color, the
    cells between are painted in one array assignment, the last settles the palette and the
    symbols (a color painted over keeps its symbol retired). Raises :class:`InputError` (one
    line, nothing changed) for a cell outside the pattern, an unknown color, or a stroke that
    changes nothing.
    """
    seen: set[tuple[int, int]] = set()
    todo: list[tuple[int, int]] = []
    for row, col in cells:
        if (row, col) in seen:
            continue
        seen.add((row, col))
        if not (0 <= row < pattern.height and 0 <= col < pattern.width):
            raise InputError(f"cell ({row + 1}, {col + 1}) is outside the {pattern.width}×"
                             f"{pattern.height} pattern (rows and columns count from 1)")
        here = int(pattern.cells[row, col])
        if (code is None and here < 0) or (here >= 0 and pattern.palette[here].code == code):
            continue  # already that color
        todo.append((row, col))
    if not todo:
        raise InputError("the stroke changes nothing: those cells already have that color")
    first = edit.set_cell(pattern, *todo[0], code, catalog)
    if len(todo) == 1:
        return first
    middle = todo[1:-1]
    grid = first.cells.copy()
    if middle:
        rows, cols = zip(*middle, strict=True)
        grid[list(rows), list(cols)] = first.cells[todo[0]]
    meta = dict(first.meta)
    edit.log_edits(meta, (f"set {r + 1},{c + 1}={code or 'empty'}" for r, c in middle))
    between = Pattern(grid, list(first.palette), first.medium, first.brand, meta,
                      dict(first.settings))
    return edit.set_cell(between, *todo[-1], code, catalog)
