"""Chart symbols chosen for legibility: a curated glyph set without confusable pairs.

Every glyph belongs to a *look-alike group* (S/5/$/§, 8/B/ß, P/Þ, </‹/«, !/¡/i/l/1/I, O/0/o/°,
...); at most one glyph of a group appears on one chart. Glyphs are listed simplest first
(bold, few strokes, similar weight, easy to tell apart in black and white); the most-used colors
get the simplest ones. Tiny marks (°, ·, ¨), thin look-alikes and shapes that differ only by a
small tail are left out. All glyphs are ASCII or Latin-1 so that every embedded font has them.

Assignment is deterministic: pinned symbols first, then colors most-used first (ties: code
order), each taking the simplest glyph whose group is still free. The exports save the symbols
in ``pattern.json`` (palette ``"symbol"``), so a pattern keeps them from export to export and
after edits that keep its colors. Beyond the single glyphs, two-character symbols are used
(letter + digit), still without look-alike pairs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

# (glyph, look-alike group), simplest first. Groups name what a glyph can be mistaken for.
GLYPHS: tuple[tuple[str, str], ...] = (
    ("X", "x"), ("+", "plus"), ("O", "o"), ("/", "slash"), ("\\", "backslash"), ("#", "hash"),
    ("=", "equal"), ("T", "t"), ("V", "v"), ("L", "l-shape"), ("H", "h"), ("Z", "z"),
    ("A", "a"), ("N", "n"), ("E", "e"), ("K", "k"), ("M", "m"), ("W", "w"), ("<", "lt"),
    (">", "gt"), ("^", "caret"), ("*", "star"), ("%", "percent"), ("@", "at"), ("&", "amp"),
    ("?", "question"), ("!", "bar"), ("S", "s"), ("C", "c"), ("U", "u"), ("Y", "y"),
    ("D", "d"), ("F", "f"), ("G", "g"), ("J", "j"), ("R", "r"), ("B", "eight"), ("P", "p"),
    ("3", "three"), ("4", "four"), ("6", "six"), ("7", "seven"), ("9", "nine"),
    ("~", "tilde"), ("\u00f7", "divide"), ("\u00b1", "plusminus"), ("\u00a4", "currency"),
    ("\u00a5", "yen"), ("\u00a3", "pound"), ("\u00a2", "cent"), ("\u00b6", "pilcrow"),
    ("\u00a9", "copyright"), ("\u00ae", "registered"), ("\u00c6", "ae"), ("a", "a-small"),
    ("b", "b-small"), ("d", "d-small"), ("e", "e-small"), ("g", "g-small"), ("h", "h-small"),
    ("k", "k-small"), ("m", "m-small"), ("n", "n-small"), ("r", "r-small"), ("w", "w-small"),
    ("y", "y-small"), ("\u00bf", "invquestion"), ("\u00ac", "not"), ("\u00b5", "mu"),
)

# Look-alikes that must never share a chart: the groups above merged where glyphs (including
# ones not in the set, listed for reference) are confusable. Each inner tuple is one family.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("s", "five", "dollar", "section"),  # S 5 $ §
    ("eight", "eszett", "amp"),  # 8 B ß &
    ("p", "thorn"),  # P Þ
    ("lt", "lsaquo", "laquo"),  # < ‹ «
    ("gt", "rsaquo", "raquo"),  # > › »
    ("bar", "i", "l", "one", "invexcl"),  # ! ¡ i l 1 I
    ("o", "zero", "degree", "q", "oslash"),  # O 0 o ° Q Ø
    ("x", "times"),  # X ×
    ("plus", "plusminus", "dagger", "t-small"),  # + ± † t
    ("c", "cent", "copyright"),  # C ¢ ©
    ("e", "pound", "euro"),  # E £ €
    ("y", "yen", "y-small"),  # Y ¥ y
    ("u", "mu", "v"),  # U µ V
    ("z", "two"),  # Z 2
    ("nine", "g-small", "q-small"),  # 9 g q
    ("six", "b-small", "g"),  # 6 b G
    ("d", "d-small"),  # D d
    ("a", "a-small", "four"),  # A a 4 (bold 4 looks like A in small print)
    ("n", "n-small", "h-small"),  # N n h
    ("w", "w-small", "m", "m-small"),  # W w M m
    ("k", "k-small"),  # K k
    ("h", "hash"),  # H #
    ("equal", "tilde", "divide"),  # = ~ ÷
    ("r", "r-small"),  # R r
    ("question", "invquestion"),  # ? ¿
)

_FAMILY_OF: dict[str, str] = {}
for _fam in FAMILIES:
    for _g in _fam:
        _FAMILY_OF[_g] = _fam[0]


def family(group: str) -> str:
    """The look-alike family a glyph group belongs to (itself if it has no look-alikes)."""
    return _FAMILY_OF.get(group, group)


GLYPH_FAMILY: dict[str, str] = {g: family(grp) for g, grp in GLYPHS}
_DIGITS = "23456789"


def _two_char() -> Iterator[str]:
    """Two-character symbols: distinct-family heads followed by a digit (``X2``, ``+3``), then
    numbers from 10 up (``X10``), without end."""
    heads: list[str] = []
    seen: set[str] = set()
    for g, _ in GLYPHS:
        fam = GLYPH_FAMILY[g]
        if fam in seen or not g.isascii():
            continue
        seen.add(fam)
        heads.append(g)
    for d in _DIGITS:
        yield from (h + d for h in heads)
    k = 10
    while True:
        yield from (h + str(k) for h in heads)
        k += 1


def assign_symbols(
    codes: Sequence[str],
    counts: Sequence[int],
    pinned: Sequence[str | None] | None = None,
    avoid: Collection[str] = (),
) -> list[str]:
    """One distinct chart symbol per color (see the module docstring).

    ``codes`` and ``counts`` are per palette entry (counts: cells of that color). ``pinned``
    symbols (or None) are kept as they are; ``avoid``: symbols no unpinned color may take
    (those of colors an edit removed, so a printed chart never means two colors). Returns the
    symbols in palette order.
    """
    n = len(codes)
    out: list[str | None] = list(pinned) if pinned is not None else [None] * n
    if len(out) != n or len(counts) != n:
        raise ValueError("codes, counts and pinned must have one entry per color")
    used_fams = {GLYPH_FAMILY[s] for s in out if s and s in GLYPH_FAMILY}
    taken = {s for s in out if s} | set(avoid)
    order = sorted(range(n), key=lambda i: (-int(counts[i]), str(codes[i])))
    singles = [g for g, _ in GLYPHS]
    extra = _two_char()
    for i in order:
        if out[i]:
            continue
        pick = None
        for g in singles:
            if g not in taken and GLYPH_FAMILY[g] not in used_fams:
                pick = g
                break
        if pick is None:
            pick = next(s for s in extra if s not in taken)
        else:
            used_fams.add(GLYPH_FAMILY[pick])
        taken.add(pick)
        out[i] = pick
    return [s for s in out if s is not None]


def confusable(a: str, b: str) -> bool:
    """True when two single glyphs of the set are look-alikes (same family)."""
    fa, fb = GLYPH_FAMILY.get(a), GLYPH_FAMILY.get(b)
    return fa is not None and fa == fb
