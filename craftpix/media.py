"""The four crafts craftpix designs for, and their physical facts.

A :class:`Medium` says which catalogs a craft uses, how big one cell is in the real world,
and how a large design is split into the boards, baseplates or chart pages a maker works on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from craftpix.errors import InputError

MM_PER_INCH = 25.4

#: Diamond-painting drills (resin, named by DMC floss code): ``--drill`` value → drill pitch in
#: mm. Square drills are 2.5 mm and sit edge to edge; round drills are about 2.8 mm across and
#: their canvas cells are charted 2.8 mm apart (issue facts: square ≈ 2.5 mm, round ≈ 2.8 mm;
#: diamondpainting.art "How to choose round or square drills": 2.5 mm drills).
DRILLS: dict[str, float] = {"square": 2.5, "round": 2.8}
DEFAULT_DRILL = "square"
#: Blank canvas around a diamond painting's drill area, each side (mm): room to frame or tape
#: it, as for cross-stitch fabric (5 cm).
CANVAS_MARGIN_MM = 50.0

# The 1×1 LEGO elements a mosaic can be built from: option value → (part ids, name).
BRICK_PARTS: dict[str, tuple[str, str]] = {
    "plate": ("3024", "Plate 1×1"),
    "round": ("4073/6141", "Round plate 1×1"),
    "tile": ("3070b", "Tile 1×1"),
}


def plural(n: int, word: str) -> str:
    """``n`` and ``word`` in English number agreement: "1 color", "2 colors", "3 stitches"."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}{'es' if word.endswith(('ch', 'sh', 's', 'x')) else 's'}"


@dataclass(frozen=True)
class Medium:
    """One craft: catalogs, cell pitch and section sizes."""

    name: str
    title: str
    piece: str  # what one cell is: "bead", "plate", "stitch"
    brands: tuple[str, ...]  # catalog names under palettes/, first is the default
    pitch_mm: float  # centre-to-centre distance of cells (stitch: at the default count)
    sections: tuple[int, ...]  # square board / baseplate sizes, in cells; first is the default
    fabric_counts: tuple[int, ...] = ()  # stitch only: cells per inch
    default_fabric_count: int | None = None
    pack_size: int = 0  # pieces per bag (beads); 0 when not sold by bag
    mirror: bool = False  # whether the chart may be printed mirrored (--mirror)

    @property
    def default_brand(self) -> str:
        return self.brands[0]

    def pieces(self, n: int) -> str:
        """``n`` with the piece's word, singular or plural: "1 bead", "1200 stitches"."""
        return plural(n, self.piece)

    @property
    def default_section(self) -> int:
        return self.sections[0]

    def cell_mm(self, fabric_count: int | None = None, drill: str | None = None) -> float:
        """Size of one cell in millimetres (for stitch, at ``fabric_count`` stitches per inch;
        for diamond painting, of the ``drill`` shape: :data:`DRILLS`)."""
        if self.name == "diamond":
            shape = drill or DEFAULT_DRILL
            if shape not in DRILLS:
                raise InputError(f"unknown drill {shape!r}; choose one of: {', '.join(DRILLS)}")
            return DRILLS[shape]
        if not self.fabric_counts:
            return self.pitch_mm
        count = fabric_count if fabric_count is not None else self.default_fabric_count
        if count not in self.fabric_counts:
            allowed = ", ".join(str(c) for c in self.fabric_counts)
            raise InputError(f"fabric count {count} is not one of {allowed}")
        return MM_PER_INCH / count

    def for_brand(self, brand: str | None) -> Medium:
        """This craft as made with catalog ``brand``: a bead line of its own size (mini beads,
        :data:`BEAD_LINES`) has its own pitch and boards; other brands change nothing."""
        line = BEAD_LINES.get((brand or "").lower()) if self.name == "beads" else None
        if line is None:
            return self
        return replace(self, title=line.title, pitch_mm=line.pitch_mm, sections=line.boards)

    def finished_size_mm(
        self, width: int, height: int, fabric_count: int | None = None,
        drill: str | None = None,
    ) -> tuple[float, float]:
        """Physical width and height of a ``width``×``height`` design, in millimetres."""
        cell = self.cell_mm(fabric_count, drill)
        return width * cell, height * cell


@dataclass(frozen=True)
class BeadLine:
    """A fuse-bead line whose beads are not the 5 mm midi size: pitch and square boards."""

    title: str  # the craft's title with this line ("mini fuse beads")
    pitch_mm: float  # peg pitch of its board
    boards: tuple[int, ...]  # square pegboard sizes, in pegs; first is the default


#: Mini bead catalogs (palettes/*-mini.csv; each file's header cites its colors). Sizes: mini
#: beads are about 2.5-2.6 mm. Boards: Artkal mini square pegboard 50 x 50 pegs (about 137 mm),
#: Perler Mini 56 x 56 (about 147 mm, so 147 / 56 = 2.625 mm a peg), Hama mini 57 x 57
#: (2.5 mm beads). The pitch of the Artkal and Hama boards is the bead size (2.6 / 2.5 mm):
#: their overall board sizes include a rim. Bags are counted as for midi beads (1 000); a
#: price or inventory file gives the bag you buy.
BEAD_LINES: dict[str, BeadLine] = {
    "perler-mini": BeadLine("mini fuse beads", 147 / 56, (56,)),
    "hama-mini": BeadLine("mini fuse beads", 2.5, (57,)),
    "artkal-mini": BeadLine("mini fuse beads", 2.6, (50,)),
}



def pitch_text(mm: float) -> str:
    """A peg pitch as people read it, at most 3 decimals and no trailing zeros: 147/56 mm is
    "2.625", 2.5 mm is "2.5" (the one way catalog listings, the PDF and the README say it)."""
    return f"{mm:.3f}".rstrip("0").rstrip(".")


MEDIA: dict[str, Medium] = {
    "beads": Medium(
        name="beads",
        title="fuse beads",
        piece="bead",
        brands=("perler", "hama", "artkal", "perler-mini", "hama-mini", "artkal-mini"),
        pitch_mm=5.0,  # midi beads on a square pegboard (measured Perler pitch ≈ 4.99 mm)
        sections=(29,),  # the common large square pegboard (mini lines: BEAD_LINES)
        pack_size=1000,
        mirror=True,
    ),
    "bricks": Medium(
        name="bricks",
        title="brick mosaic",
        piece="plate",
        brands=("lego",),
        pitch_mm=8.0,  # one stud
        sections=(16, 32, 48),
        mirror=True,
    ),
    "stitch": Medium(
        name="stitch",
        title="cross-stitch",
        piece="stitch",
        brands=("dmc",),
        pitch_mm=MM_PER_INCH / 14,
        sections=(),
        fabric_counts=(11, 14, 16, 18),
        default_fabric_count=14,
    ),
    "diamond": Medium(
        name="diamond",
        title="diamond painting",
        piece="drill",
        brands=("dmc",),  # drills are named by DMC floss code
        pitch_mm=DRILLS[DEFAULT_DRILL],
        sections=(),
        pack_size=200,  # drills counted in bags of 200 per color (export/bom.py DRILL_FORMULA)
    ),
}


def get_medium(name: str, brand: str | None = None) -> Medium:
    """Look up a medium by name (as made with catalog ``brand``: :meth:`Medium.for_brand`),
    with a plain error for unknown names."""
    try:
        medium = MEDIA[name]
    except KeyError:
        raise InputError(
            f"unknown medium {name!r}; choose one of: {', '.join(MEDIA)}"
        ) from None
    return medium.for_brand(brand)
