"""``pattern.ldr``: the brick mosaic as an LDraw model, to check and share it in BrickLink Studio,
LDCad, LeoCAD or LDView.

LDraw facts used (LDraw File Format 1.0.2, ldraw.org/article/218; the LDraw parts library):

* line type 1, ``1 <colour> x y z a b c d e f g h i <file>``: a part ``<file>`` placed at
  (x, y, z) with the rotation matrix ``[[a b c] [d e f] [g h i]]``; line type 0 is a comment or
  a meta command (``0 STEP`` ends a building step); the first line is the title, then
  ``0 Name:`` and ``0 Author:``;
* units (LDU): 20 per stud, 8 per plate; the co-ordinate system is right-handed with −Y up,
  so a model's front faces −Z (the library's slopes fall towards −Z, e.g. ``3040b.dat``);
* every plate and tile file has its origin at the centre of its top face, the body below it
  (y 0 … 8), studs above (y −4 … 0), the long side along X (``3020.dat`` spans x ±40,
  z ±20);
* part files: plate 1×1 ``3024.dat``, round plate 1×1 ``6141.dat`` (BrickLink and LEGO's
  4073; the library's ``4073.dat`` is an alias "~Moved to 6141"), tile 1×1 ``3070b.dat``;
  merged plates 1×2 ``3023.dat`` (an alias of ``3023b.dat`` since 2023, kept for older
  libraries), 1×3 ``3623.dat``, 1×4 ``3710.dat``, 2×2 ``3022.dat``, 2×3 ``3021.dat``,
  2×4 ``3020.dat`` (library update 2024-05);
* colour codes are LDraw's (``LDConfig.ldr``), not BrickLink's or LEGO's (Black is 0, 11,
  26): the catalog's ``ldraw_id`` column (palettes/lego.csv says where it comes from). A
  palette color without one is written as an LDraw direct colour ``0x2RRGGBB``.

The model lies flat, studs up, as it is built: the picture's top row at the back (+Z), its
left column at −X, so the top view shows the picture the right way round and the front view
looks at its bottom edge. It is centred on the origin; its footprint is 20·W × 20·H LDU (the
mosaic's size) at plate height. One part line per piece of the bill of materials (merged
plates as their own parts with ``--merge``), one ``0 STEP`` per baseplate, in the order of
the PDF's baseplate pages. The baseplates themselves are not in the model (nor in the bill
of materials). With ``--mirror`` the model is the mirrored chart as it is built (on a
transparent baseplate, studs up, looked at from below): the same merged plates as the PDF,
the bill of materials and the orders, so its top view shows the picture mirrored and its
bottom view the picture.
"""

from __future__ import annotations

from craftpix import __version__
from craftpix.export.merge import MergeResult, Placement, plate_id
from craftpix.pattern import Pattern

LDU_PER_STUD = 20
LDU_PER_PLATE = 8
#: --part choice → LDraw file of the 1×1 piece
ONE_BY_ONE_FILES = {"plate": "3024.dat", "round": "6141.dat", "tile": "3070b.dat"}
IDENTITY = (1, 0, 0, 0, 1, 0, 0, 0, 1)
QUARTER_TURN = (0, 0, 1, 0, 1, 0, -1, 0, 0)  # 90° about Y: the part's X (long side) along Z


def part_file(placement: Placement, part: str) -> str:
    """The LDraw file of a placement: the chosen 1×1 piece, or the merged plate's own part."""
    if (placement.rows, placement.cols) == (1, 1):
        return ONE_BY_ONE_FILES[part]
    return f"{plate_id(placement.rows, placement.cols)}.dat"


def colour_code(hexval: str, ldraw_id: str | None) -> str:
    """The LDraw colour of a palette color: its LDraw code, else a direct colour 0x2RRGGBB."""
    if ldraw_id and ldraw_id.isdigit():
        return ldraw_id
    return "0x2" + hexval.lstrip("#").upper()


def _num(v: float) -> str:
    return f"{v:g}"


def ldraw_model(
    pattern: Pattern,
    section: int,
    part: str = "plate",
    merged: MergeResult | None = None,
    *,
    title: str = "",
    ldraw_ids: dict[str, str] | None = None,
) -> tuple[str, list[str]]:
    """The LDraw text of a brick ``pattern`` and notes for the user (see the module docstring).

    ``section`` is the baseplate size in studs (one ``0 STEP`` each), ``part`` the 1×1 piece
    (``plate``, ``round``, ``tile``), ``merged`` the larger plates of ``--merge``.
    ``ldraw_ids`` maps color codes to LDraw colour codes (default: the catalog's
    ``ldraw_id`` column). Raises ValueError for a pattern that is not bricks.
    """
    from craftpix.export.layout import section_plan
    from craftpix.export.orders import catalog_column

    if pattern.medium != "bricks":
        raise ValueError(f"an LDraw model is made from a brick mosaic, not {pattern.medium}")
    ids = catalog_column(pattern.brand, "ldraw_id") if ldraw_ids is None else ldraw_ids
    colours = [colour_code(c.hex, ids.get(c.code)) for c in pattern.palette]
    notes: list[str] = []
    direct = [c.code for c, k in zip(pattern.palette, colours, strict=True) if k.startswith("0x")]
    if direct:
        notes.append(f"pattern.ldr shows {', '.join(direct)} as their RGB color (the {pattern.brand} "
                     "catalog gives no LDraw colour code for them)")
    if merged is not None:
        placements = list(merged.placements)
    else:
        rows, cols = (pattern.cells >= 0).nonzero()
        placements = [Placement(int(r), int(c), 1, 1, int(pattern.cells[r, c]))
                      for r, c in zip(rows, cols, strict=True)]
    w, h = pattern.width, pattern.height
    name = "pattern.ldr"
    lines = [f"0 {_one_line(title) or 'craftpix brick mosaic'}", f"0 Name: {name}",
             f"0 Author: craftpix {__version__}",
             f"0 // {w} x {h} studs, {len(placements)} pieces, {section} x {section} baseplates "
             "(not in the model), one step each",
             "0 // lying flat, studs up (-Y); top row of the picture at the back (+Z)"]
    boards = section_plan(w, h, section)
    for board in boards:
        inside = [p for p in placements
                  if board.row0 <= p.row < board.row1 and board.col0 <= p.col < board.col1]
        lines.append(f"0 // baseplate {board.number} of {len(boards)}: rows {board.row0 + 1}-"
                     f"{board.row1}, columns {board.col0 + 1}-{board.col1}")
        for p in inside:
            x = (p.col + p.cols / 2) * LDU_PER_STUD - w * LDU_PER_STUD / 2
            z = h * LDU_PER_STUD / 2 - (p.row + p.rows / 2) * LDU_PER_STUD
            m = QUARTER_TURN if p.rows > p.cols else IDENTITY
            lines.append(f"1 {colours[p.color]} {_num(x)} 0 {_num(z)} "
                         f"{' '.join(str(v) for v in m)} {part_file(p, part)}")
        lines.append("0 STEP")
    return "\n".join(lines) + "\n", notes


def _one_line(text: str) -> str:
    """``text`` as one printable line (LDraw lines end at a newline)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:200]
