"""The three crafts craftpix designs for, and their physical facts.

A :class:`Medium` says which catalogs a craft uses, how big one cell is in the real world,
and how a large design is split into the boards, baseplates or chart pages a maker works on.
"""

from __future__ import annotations

from dataclasses import dataclass

from craftpix.errors import InputError

MM_PER_INCH = 25.4

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

    @property
    def default_brand(self) -> str:
        return self.brands[0]

    def pieces(self, n: int) -> str:
        """``n`` with the piece's word, singular or plural: "1 bead", "1200 stitches"."""
        return plural(n, self.piece)

    @property
    def default_section(self) -> int:
        return self.sections[0]

    def cell_mm(self, fabric_count: int | None = None) -> float:
        """Size of one cell in millimetres (for stitch, at ``fabric_count`` stitches per inch)."""
        if not self.fabric_counts:
            return self.pitch_mm
        count = fabric_count if fabric_count is not None else self.default_fabric_count
        if count not in self.fabric_counts:
            allowed = ", ".join(str(c) for c in self.fabric_counts)
            raise InputError(f"fabric count {count} is not one of {allowed}")
        return MM_PER_INCH / count

    def finished_size_mm(
        self, width: int, height: int, fabric_count: int | None = None
    ) -> tuple[float, float]:
        """Physical width and height of a ``width``×``height`` design, in millimetres."""
        cell = self.cell_mm(fabric_count)
        return width * cell, height * cell


MEDIA: dict[str, Medium] = {
    "beads": Medium(
        name="beads",
        title="fuse beads",
        piece="bead",
        brands=("perler", "hama", "artkal"),
        pitch_mm=5.0,  # midi beads on a square pegboard (measured Perler pitch ≈ 4.99 mm)
        sections=(29,),  # the common large square pegboard
        pack_size=1000,
    ),
    "bricks": Medium(
        name="bricks",
        title="brick mosaic",
        piece="plate",
        brands=("lego",),
        pitch_mm=8.0,  # one stud
        sections=(16, 32, 48),
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
}


def get_medium(name: str) -> Medium:
    """Look up a medium by name, with a plain error for unknown names."""
    try:
        return MEDIA[name]
    except KeyError:
        raise InputError(
            f"unknown medium {name!r}; choose one of: {', '.join(MEDIA)}"
        ) from None
