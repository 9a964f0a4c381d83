"""Bill of materials: how many pieces of each color, and what to buy.

* beads: bags of ``medium.pack_size`` (1 000) beads, with a spare margin;
* bricks: LEGO elements (1×1 plate 3024, round plate 4073/6141 or tile 3070b; with ``--merge``
  also the larger plates) with a spare margin on 1×1 parts;
* stitch: DMC skeins from the thread length per cross (formula in :data:`SKEIN_FORMULA`);
* diamond: drills per DMC color plus spares, in bags (:data:`DRILL_FORMULA`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from craftpix.errors import InputError
from craftpix.export.merge import MergeResult, plate_id, plate_name
from craftpix.media import BRICK_PARTS, DEFAULT_DRILL, get_medium
from craftpix.pattern import Color, Pattern, usage_order

SPARE_FRACTION = 0.05
SPARE_MIN = 2

PARTS = BRICK_PARTS  # --part choice → (LEGO part ids, name) of the 1×1 piece
# --part choice → BrickLink part number of the 1×1 piece (BrickLink lists 6141 under 4073)
BRICKLINK_ONE_BY_ONE = {"plate": "3024", "round": "4073", "tile": "3070b"}

# --- cross-stitch thread -------------------------------------------------------------------
SKEIN_STRAND_CM = 800 * 6  # a DMC skein: 8 m of 6-strand floss = 4 800 strand-cm
DANISH_INCH_PER_COUNT = 2 * (math.sqrt(2) + 1)  # two diagonals in front + two verticals behind
THREAD_OVERHEAD = 1.57  # tails, travel between areas, waste; matches yields measured by stitchers
SKEIN_FORMULA = (
    "Thread per full cross, per strand (Danish method): 2(\u221a2+1)/count inches "
    f"(two diagonals in front, two verticals behind), \u00d7{THREAD_OVERHEAD:.2f} for starting "
    "and finishing tails, travel and waste. One skein = 8 m \u00d7 6 strands = "
    f"{SKEIN_STRAND_CM} strand-cm. Skeins = crosses \u00d7 strands \u00d7 thread per cross "
    "\u00f7 4 800 cm, rounded up."
)


def spare(count: int) -> int:
    """Spare pieces to add to ``count``: 5 %, at least 2 (none for an unused color)."""
    if count <= 0:
        return 0
    return max(SPARE_MIN, math.ceil(count * SPARE_FRACTION))


def default_strands(fabric_count: int) -> int:
    """Strands of floss usual for a fabric count: 3 on 11 ct and coarser, 2 on 14–18 ct."""
    return 3 if fabric_count <= 11 else 2


def thread_cm_per_cross(fabric_count: int, strands: int) -> float:
    """Strand-centimetres of floss one full cross uses, overhead included."""
    per_strand_in = DANISH_INCH_PER_COUNT / fabric_count
    return per_strand_in * 2.54 * strands * THREAD_OVERHEAD


def crosses_per_skein(fabric_count: int, strands: int) -> float:
    """How many full crosses one skein gives (≈1 750 at 14 ct with 2 strands)."""
    return SKEIN_STRAND_CM / thread_cm_per_cross(fabric_count, strands)


def skeins_needed(crosses: int, fabric_count: int, strands: int) -> int:
    """Skeins to buy for ``crosses`` full crosses (0 for none)."""
    if crosses <= 0:
        return 0
    return math.ceil(crosses / crosses_per_skein(fabric_count, strands))


# --- diamond painting drills --------------------------------------------------------------
#: Spare drills per color: kits add spares because drills are lost and some are misshapen;
#: craftpix adds 10 % of each color, at least 20 (its own choice, printed with the counts).
DRILL_SPARE_FRACTION = 0.10
DRILL_SPARE_MIN = 20
DRILL_FORMULA = (
    f"Drills: the cells of each color plus {DRILL_SPARE_FRACTION:.0%} spare (at least "
    f"{DRILL_SPARE_MIN}), counted in bags of {{pack}} drills per color (loose drills are sold "
    "in small bags by DMC code; check your seller's bag size)."
)


def drill_spare(count: int) -> int:
    """Spare drills for ``count`` drills of one color (none for an unused color)."""
    if count <= 0:
        return 0
    return max(DRILL_SPARE_MIN, math.ceil(count * DRILL_SPARE_FRACTION))


def drill_bags(count: int, pack_size: int) -> int:
    """Bags of ``pack_size`` drills for ``count`` drills plus :func:`drill_spare`."""
    if count <= 0:
        return 0
    return math.ceil((count + drill_spare(count)) / pack_size)


def bags_needed(count: int, pack_size: int) -> int:
    """Bags of ``pack_size`` beads for ``count`` beads plus the spare margin."""
    if count <= 0:
        return 0
    return math.ceil((count + spare(count)) / pack_size)


@dataclass(frozen=True)
class BuyLine:
    """One thing to buy: ``quantity`` of ``item`` (e.g. 126 × "3024 Plate 1×1")."""

    item: str
    quantity: int
    note: str = ""
    plural: str = ""  # for a unit such as "skein"/"skeins": read "2 skeins", not "2 × skein"
    part: str = ""  # bricks: the BrickLink part number (ITEMID), e.g. "3024"
    needed: int = 0  # pieces the design uses (cells, crosses, parts), before spares and packs
    owned: int = 0  # of ``needed``, pieces you own (bought: ``quantity`` for the rest)
    price_per_pack: float | None = None  # price of one ``item``, in the prices' currency

    @property
    def price_total(self) -> float | None:
        """What ``quantity`` packs cost (None without a price)."""
        return None if self.price_per_pack is None else round(self.price_per_pack * self.quantity, 2)

    def text(self) -> str:
        if self.plural:
            s = f"{self.quantity} {self.item if self.quantity == 1 else self.plural}"
        else:
            s = f"{self.quantity} \u00d7 {self.item}"
        bits = [self.note] if self.note else []
        if self.owned:
            bits.append(f"{self.owned:,} owned")
        if self.price_per_pack is not None and self.quantity:
            bits.append(f"{self.price_per_pack:.2f} each, {self.price_total:.2f}")
        return f"{s} ({'; '.join(bits)})" if bits else s


@dataclass(frozen=True)
class BomRow:
    """One color of the pattern."""

    index: int  # palette index
    color: Color
    symbol: str
    count: int  # cells of this color
    buy: tuple[BuyLine, ...]


@dataclass
class Bom:
    """Bill of materials of a whole pattern (rows most-used first)."""

    medium: str
    rows: list[BomRow]
    total_cells: int
    totals: list[BuyLine]
    notes: list[str] = field(default_factory=list)
    fabric_count: int | None = None  # stitch: what the skein counts assume
    strands: int | None = None
    cost: float | None = None  # what the packs to buy cost (see craftpix.prices.apply_purchases)


@dataclass(frozen=True)
class ExportSettings:
    """Resolved physical settings for one export (defaults filled in, validated)."""

    medium: str
    part: str = "plate"
    section: int | None = None  # beads/bricks: board size in cells
    fabric_count: int | None = None  # stitch only
    strands: int | None = None  # stitch only
    brand: str | None = None  # the catalog: mini bead lines have their own pitch and boards
    mirror: bool = False  # beads/bricks: charts drawn mirrored (built from the back)
    drill: str | None = None  # diamond only: "square" or "round"

    @property
    def cell_mm(self) -> float:
        return get_medium(self.medium, self.brand).cell_mm(self.fabric_count, self.drill)


def resolve_settings(
    medium_name: str,
    *,
    part: str = "plate",
    section: int | None = None,
    fabric_count: int | None = None,
    strands: int | None = None,
    merge: bool = False,
    brand: str | None = None,
    mirror: bool = False,
    drill: str | None = None,
) -> ExportSettings:
    """Fill in medium defaults and reject options that do not apply, with one plain line.

    ``brand`` (the catalog) picks a bead line's own pitch and boards (mini beads,
    :data:`craftpix.media.BEAD_LINES`); ``mirror`` applies to bead and brick charts only.
    """
    medium = get_medium(medium_name, brand)
    if mirror and not medium.mirror:
        raise InputError(f"--mirror applies to bead and brick charts, not to {medium.title}")
    if drill is not None and medium.name != "diamond":
        raise InputError(f"--drill applies to diamond painting, not to {medium.title}")
    if part not in PARTS:
        raise InputError(f"unknown part {part!r}; choose one of: {', '.join(PARTS)}")
    if merge and medium.name != "bricks":
        raise InputError(f"--merge applies to brick mosaics, not to {medium.title}")
    if merge and part != "plate":
        raise InputError("--merge covers areas with larger plates, so it needs --part plate")
    if medium.sections:
        sec = medium.default_section if section is None else section
        if sec not in medium.sections:
            allowed = ", ".join(str(s) for s in medium.sections)
            raise InputError(f"--section {sec} is not a {medium.title} board size; choose {allowed}")
    else:
        if section is not None:
            raise InputError(f"--section applies to beads and bricks, not to {medium.title}")
        sec = None
    if medium.name == "stitch":
        count = medium.default_fabric_count if fabric_count is None else fabric_count
        medium.cell_mm(count)  # validates the count
        assert count is not None
        n = default_strands(count) if strands is None else strands
        if not 1 <= n <= 6:
            raise InputError(f"--strands {n} is out of range; floss has 1 to 6 strands")
        return ExportSettings(medium.name, part, None, count, n, brand)
    if fabric_count is not None:
        raise InputError(f"--fabric-count applies to cross-stitch, not to {medium.title}")
    if strands is not None:
        raise InputError(f"--strands applies to cross-stitch, not to {medium.title}")
    if medium.name == "diamond":
        shape = drill or DEFAULT_DRILL
        medium.cell_mm(drill=shape)  # validates the shape
        return ExportSettings(medium.name, part, None, None, None, brand, False, shape)
    return ExportSettings(medium.name, part, sec, None, None, brand, bool(mirror))


def build_bom(
    pattern: Pattern,
    settings: ExportSettings,
    merged: MergeResult | None = None,
) -> Bom:
    """Count every color and say what to buy for it."""
    medium = get_medium(pattern.medium, pattern.brand)
    counts = pattern.counts()
    symbols = pattern.symbols()
    order = usage_order(counts)
    rows: list[BomRow] = []
    notes: list[str] = []
    totals: list[BuyLine] = []
    total_cells = int(counts.sum())

    if pattern.medium == "beads":
        pack = medium.pack_size
        for i in order:
            n = int(counts[i])
            bags = bags_needed(n, pack)
            rows.append(BomRow(i, pattern.palette[i], symbols[i], n,
                               (BuyLine(f"bag of {pack}", bags, plural=f"bags of {pack}",
                                        needed=n),)))
        totals.append(BuyLine(f"bag of {pack} beads", sum(r.buy[0].quantity for r in rows),
                              plural=f"bags of {pack} beads"))
        notes.append(
            f"Bags: beads plus a spare margin of {SPARE_FRACTION:.0%} (at least {SPARE_MIN}), "
            f"in bags of {pack}."
        )
    elif pattern.medium == "diamond":
        pack = medium.pack_size
        shape = settings.drill or DEFAULT_DRILL
        for i in order:
            n = int(counts[i])
            extra = drill_spare(n)
            rows.append(BomRow(i, pattern.palette[i], symbols[i], n,
                               (BuyLine(f"bag of {pack}", drill_bags(n, pack),
                                        f"{n} + {extra} spare {shape} drills",
                                        plural=f"bags of {pack}", needed=n),)))
        totals.append(BuyLine(f"bag of {pack} drills", sum(r.buy[0].quantity for r in rows),
                              plural=f"bags of {pack} drills"))
        notes.append(DRILL_FORMULA.format(pack=pack))
    elif pattern.medium == "bricks":
        one_id, one_name = PARTS[settings.part]
        # parts per color, counted in one pass over the placements
        merged_parts = (merged.part_counts_in(0, pattern.height, 0, pattern.width)
                        if merged is not None else {})
        part_totals: dict[str, int] = {}
        for i in order:
            n = int(counts[i])
            sizes = merged_parts[i] if merged is not None else {(1, 1): n}
            lines = []
            for (a, b), k in sorted(sizes.items(), key=lambda kv: -kv[0][0] * kv[0][1]):
                if (a, b) == (1, 1):
                    extra = spare(k)
                    line = BuyLine(f"{one_id} {one_name}", k + extra, f"{k} + {extra} spare",
                                   part=BRICKLINK_ONE_BY_ONE[settings.part], needed=k)
                else:
                    line = BuyLine(f"{plate_id(a, b)} {plate_name(a, b)}", k,
                                   part=plate_id(a, b), needed=k)
                lines.append(line)
                part_totals[line.item] = part_totals.get(line.item, 0) + line.quantity
            rows.append(BomRow(i, pattern.palette[i], symbols[i], n, tuple(lines)))
        totals.extend(BuyLine(item, q) for item, q in sorted(part_totals.items()))
        notes.append(
            f"1\u00d71 parts include a spare margin of {SPARE_FRACTION:.0%} per color "
            f"(at least {SPARE_MIN}); larger plates are counted exactly."
        )
        if merged is not None:
            notes.append(
                f"Merged plates: {merged.pieces_before} pieces as 1\u00d71 become "
                f"{merged.pieces_after} parts ({merged.reduction:.0%} fewer); no part crosses a "
                f"{merged.section}\u00d7{merged.section} baseplate border."
            )
    else:
        fc, st = settings.fabric_count, settings.strands
        assert fc is not None and st is not None
        for i in order:
            n = int(counts[i])
            rows.append(BomRow(i, pattern.palette[i], symbols[i], n,
                               (BuyLine("skein", skeins_needed(n, fc, st), plural="skeins",
                                        needed=n),)))
        totals.append(BuyLine("skein", sum(r.buy[0].quantity for r in rows), plural="skeins"))
        notes.append(SKEIN_FORMULA)
        notes.append(
            f"At {fc} ct with {st} strand{'s' if st != 1 else ''}: "
            f"{thread_cm_per_cross(fc, st):.2f} cm of floss per cross, "
            f"about {crosses_per_skein(fc, st):.0f} crosses per skein."
        )
    return Bom(pattern.medium, rows, total_cells, totals, notes, settings.fabric_count,
               settings.strands)


def section_counts(pattern: Pattern, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
    """Cells of each palette entry inside rows ``row0:row1`` and columns ``col0:col1``.

    Empty cells are not counted.
    """
    block = pattern.cells[row0:row1, col0:col1].ravel()
    return np.bincount(block[block >= 0], minlength=len(pattern.palette))
