"""Notes for a person, kept structured so that each interface words its own hints.

A :class:`Note` is a ``str`` — the command line's wording, e.g. ``"the image is wider than
48x48: kept whole, with 9 empty rows above and 10 empty rows below (--fit crop fills the
grid; --size 48x keeps the image's shape)"`` — that also knows its parts: :attr:`Note.what`
(what happened) and :attr:`Note.hints`, each a :class:`Hint` naming a setting, the value to
give it and what that does. The CLI prints the note as it is; the web app words the hints
in the names of its form (``Fit "crop" fills the grid; an empty Height keeps the image's
shape``) with :meth:`Note.worded`. Every place that takes a plain ``str`` takes a Note.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    """A setting that would change what a note is about.

    ``option`` is the setting's name as :class:`craftpix.api.PatternRequest` spells it
    (``"fit"``, ``"size"``, ``"colors"``); ``value`` what to give it (``"crop"``, ``"48x"``,
    ``"N"``; None for a switch); ``effect`` what that does (``"fills the grid"``).
    """

    option: str
    value: str | None
    effect: str

    def cli(self) -> str:
        """The command line's wording: ``--fit crop fills the grid``."""
        flag = "--" + self.option.replace("_", "-")
        return f"{flag} {self.value} {self.effect}" if self.value else f"{flag} {self.effect}"


class Note(str):
    """A note whose text is the CLI's wording, with its parts kept (see the module docstring).

    ``Note(what, hints)`` reads ``what (hint; hint)``, each hint as :meth:`Hint.cli` words it.
    """

    what: str
    hints: tuple[Hint, ...]

    def __new__(cls, what: str, hints: Iterable[Hint] = ()) -> Note:
        hints = tuple(hints)
        text = what + (" (" + "; ".join(h.cli() for h in hints) + ")" if hints else "")
        self = super().__new__(cls, text)
        self.what, self.hints = what, hints
        return self

    def worded(self, word: Callable[[Hint], str | None]) -> str:
        """The note with each hint worded by ``word`` (None leaves that hint out)."""
        parts = [w for w in (word(h) for h in self.hints) if w]
        return self.what + (" (" + "; ".join(parts) + ")" if parts else "")
