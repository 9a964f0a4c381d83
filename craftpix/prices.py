"""What a pattern costs to buy: prices per pack, what is owned, what is left to buy.

One place answers "how many packs of each color do I buy, and what do they cost" for the
summary line, ``shopping-list.csv``, the PDF and ``--budget``.

Prices come from a ``price`` column (a ``--palette`` CSV, an ``--inventory`` CSV or a built-in
catalog). An optional ``per`` column says what one price buys, as the file says it:

* beads: ``bag`` (default; a bag of :attr:`craftpix.media.Medium.pack_size` beads) or
  ``piece``/``bead`` (one bead: a bag costs ``pack_size`` times that);
* bricks: ``piece`` (default; one plate, tile or part);
* cross-stitch: ``skein`` (default; one 8 m six-strand skein).

Prices are kept on the pattern (``meta["prices"]``: code → price of one pack) so that ``edit`` and
``export`` of a saved pattern still price it; owned counts likewise (``meta["owned"]``: code →
pieces owned, ``null`` = plenty) so that the shopping list always subtracts them. Owned pieces are
used before anything is bought: a color needs ``max(0, count - owned)`` more pieces, and spares and
whole packs are counted on that remainder (:mod:`craftpix.export.bom`'s rules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from craftpix.errors import InputError

if TYPE_CHECKING:
    from craftpix.export.bom import Bom
    from craftpix.pattern import Pattern

#: What one price buys when a file does not say, per craft.
DEFAULT_PER = {"beads": "bag", "bricks": "piece", "stitch": "skein"}
#: Words a ``per`` column may hold, per craft, and the pieces each word stands for
#: (``None``: one pack, whatever its size).
PER_WORDS: dict[str, dict[str, str]] = {
    "beads": {"bag": "pack", "pack": "pack", "piece": "piece", "bead": "piece"},
    "bricks": {"piece": "pack", "plate": "pack", "part": "pack", "tile": "pack"},
    "stitch": {"skein": "pack"},
}


def pack_price(price: float, per: str, medium: str, pack_size: int = 1) -> float:
    """The price of one pack (a bag, a part, a skein) given ``price`` for one ``per``.

    Raises :class:`InputError` for a ``per`` word the craft is not sold by.
    """
    word = (per or DEFAULT_PER[medium]).strip().lower()
    kind = PER_WORDS[medium].get(word)
    if kind is None:
        allowed = ", ".join(PER_WORDS[medium])
        raise InputError(f"a price 'per {word}' does not apply to {medium}; use per {allowed}")
    return price * pack_size if kind == "piece" else price


def parse_price(text: str, where: str) -> float | None:
    """``"3.50"`` → 3.5; empty → None. Raises :class:`InputError` naming ``where`` otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"{where}: price {text!r} is not a number of 0 or more")
    return value


def palette_prices(codes: Iterable[str], extra: Iterable[Mapping[str, str]], medium: str,
                   pack_size: int = 1, where: str = "palette") -> dict[str, float]:
    """Pack prices of a palette's ``price`` (and optional ``per``) columns, by code."""
    out: dict[str, float] = {}
    for code, e in zip(codes, extra, strict=False):
        value = parse_price(e.get("price", ""), f"{where}, color {code}")
        if value is not None:
            out[code] = pack_price(value, e.get("per", ""), medium, pack_size)
    return out


def owned_of(owned: Mapping[str, int | None] | None, code: str, count: int) -> int:
    """Pieces of ``code`` owned that the design can use (``None`` = plenty: all of it)."""
    if not owned or code not in owned:
        return 0
    have = owned[code]
    return count if have is None else min(count, int(have))


def packs_to_buy(medium: str, count: int, owned: int, pack_size: int,
                 fabric_count: int | None = None, strands: int | None = None) -> int:
    """Packs of one color to buy for ``count`` pieces when ``owned`` of them are at hand.

    Spares and whole packs are counted on the remainder, with :mod:`craftpix.export.bom`'s rules.
    """
    from craftpix.export.bom import bags_needed, default_strands, skeins_needed, spare

    need = max(0, count - owned)
    if need == 0:
        return 0
    if medium == "beads":
        return bags_needed(need, pack_size)
    if medium == "diamond":
        from craftpix.export.bom import drill_bags

        return drill_bags(need, pack_size)
    if medium == "bricks":
        return need + spare(need)
    fc = fabric_count or 14
    return skeins_needed(need, fc, strands or default_strands(fc))


def pattern_prices(pattern: Pattern) -> dict[str, float]:
    """Pack prices for ``pattern``'s colors: the built-in catalog's ``price`` column, overlaid by
    the prices the pattern carries (``meta["prices"]``, from the run's palette or inventory).

    ``pattern.brand`` is looked up as a catalog name, never opened as a path.
    """
    from craftpix.export.orders import catalog_facts

    out = dict(catalog_facts(pattern.brand).price)
    stored = pattern.meta.get("prices")
    if isinstance(stored, Mapping):
        for code, value in stored.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value) and value >= 0:
                out[str(code)] = float(value)
    return out


def pattern_owned(pattern: Pattern) -> dict[str, int | None]:
    """Pieces owned per code as the pattern records them (``meta["owned"]``; None = plenty)."""
    stored = pattern.meta.get("owned")
    out: dict[str, int | None] = {}
    if isinstance(stored, Mapping):
        for code, value in stored.items():
            if value is None:
                out[str(code)] = None
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                out[str(code)] = value
    return out


def apply_purchases(pattern: Pattern, bom: Bom) -> None:
    """Make ``bom`` say what to *buy*: owned pieces subtracted, a price on every priced line,
    totals recounted and ``bom.cost`` set when any price is known. In place.

    The owned pieces of a color go to its one-piece line (a bag, 1×1 plates, skeins of crosses);
    merged plates and backstitch floss are bought as counted.
    """
    from craftpix.export.bom import BRICKLINK_ONE_BY_ONE, BomRow, BuyLine
    from craftpix.media import get_medium

    prices, owned = pattern_prices(pattern), pattern_owned(pattern)
    if not prices and not owned:
        return
    medium = get_medium(pattern.medium)
    ones = set(BRICKLINK_ONE_BY_ONE.values())
    for k, row in enumerate(bom.rows):
        price = prices.get(row.color.code)
        lines = []
        for j, line in enumerate(row.buy):
            if pattern.medium == "bricks":
                unit_line = line.part in ones
            else:
                unit_line = j == 0 and "backstitch" not in line.note
            if unit_line and row.color.code in owned:
                have = owned_of(owned, row.color.code, line.needed)
                qty = packs_to_buy(pattern.medium, line.needed, have, medium.pack_size or 1,
                                   bom.fabric_count, bom.strands)
                note = line.note
                if pattern.medium == "bricks":
                    need = line.needed - have
                    note = f"{need} + {qty - need} spare" if qty else ""
                line = replace(line, quantity=qty, owned=have, note=note)
            line_price = price if (unit_line or pattern.medium == "stitch") else None
            lines.append(replace(line, price_per_pack=line_price))
        bom.rows[k] = BomRow(row.index, row.color, row.symbol, row.count, tuple(lines))
    if pattern.medium == "bricks":
        per_item: dict[str, int] = {}
        for row in bom.rows:
            for line in row.buy:
                per_item[line.item] = per_item.get(line.item, 0) + line.quantity
        bom.totals[:] = [BuyLine(item, q) for item, q in sorted(per_item.items())]
    elif bom.totals:
        t = bom.totals[0]
        bom.totals[:] = [replace(t, quantity=sum(b.quantity for r in bom.rows for b in r.buy))]
    costs = [b.price_total for r in bom.rows for b in r.buy if b.price_total is not None]
    bom.cost = round(sum(costs), 2) if costs else None
