"""Progress of one diffusion run by stage, with an estimate of the time left (no torch).

The stages of a run are :data:`STAGES`: the model check (download check), the reference
candidates, their ranking, the score distillation. Each gets a share of the engine's progress
in proportion to its expected cost (:func:`stage_weights`); within a stage the time left is
the mean time per item so far times the items left. Reports go to an ``on_progress(label,
fraction)`` callback — :data:`craftpix.api.Progress`'s signature — with labels such as
``"candidates 2/4, about 0:12 left"``, and, for a person at a terminal, to stderr (except the
per-step SDS stage, which has its own progress bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import click

STAGES = ("models", "candidates", "ranking", "sds")
TITLES = {"models": "checking models", "candidates": "reference candidates",
          "ranking": "ranking candidates", "sds": "score distillation"}

#: Stages a person at a terminal sees as lines on stderr (the model check takes a second and
#: its errors are the one line; the SDS steps have their own progress bar).
ECHOED = ("candidates", "ranking")

Progress = Callable[[str, float], None]


def stage_weights(*, candidates: int, candidate_steps: int, steps: int,
                  cfg: bool = True) -> dict[str, float]:
    """Each stage's share of the engine's progress, from its count of UNet calls.

    A candidate costs ``candidate_steps`` UNet calls (of batch 2 with ``cfg``, else 1), the
    ranking 4 calls of batch 2 per candidate (:data:`~.reference.SCORE_TIMESTEPS`), an SDS step
    ≈ 1.3 calls of batch 2 (the UNet, the two "mid" ControlNets ≈ 0.1 each and the encoder's
    backward; docs/BENCHMARKS.md's CPU breakdown). The model check gets a fixed 2 %.
    """
    batch = 1.0 if cfg else 0.5
    cost = {"candidates": candidates * candidate_steps * batch, "ranking": candidates * 4.0,
            "sds": steps * 1.3}
    total = sum(cost.values())
    if total <= 0:
        return {"models": 1.0, "candidates": 0.0, "ranking": 0.0, "sds": 0.0}
    return {"models": 0.02, **{k: 0.98 * v / total for k, v in cost.items()}}


def format_eta(seconds: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour), or ``""`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class StageProgress:
    """Reports stage by stage: :meth:`start`, :meth:`advance` per item, :meth:`finish`.

    ``weights`` maps stage → its share (missing stages: 0). ``echo`` writes one line per
    report of the :data:`ECHOED` stages to stderr. ``clock`` is for tests.
    """

    def __init__(self, on_progress: Progress | None, weights: dict[str, float], *,
                 echo: bool = False, clock: Callable[[], float] = time.perf_counter) -> None:
        self.on_progress, self.weights, self.echo, self.clock = on_progress, weights, echo, clock
        self.done_share = 0.0  # of the stages finished
        self.stage: str | None = None
        self.total = 0
        self.t0 = 0.0
        self.reports: list[tuple[str, float, float | None]] = []  # (label, fraction, eta)
        self.last = -1  # items of the current stage last reported

    def _order_share(self, stage: str) -> float:
        return sum(self.weights.get(s, 0.0) for s in STAGES[:STAGES.index(stage)])

    def start(self, stage: str, total: int = 1) -> None:
        """Begin ``stage`` of ``total`` items (candidates, steps...)."""
        self.stage, self.total, self.t0 = stage, max(1, int(total)), self.clock()
        self.last = -1
        self.done_share = self._order_share(stage)
        self._report(0, None)

    def advance(self, done: int) -> None:
        """``done`` items of the current stage are finished."""
        elapsed = self.clock() - self.t0
        eta = elapsed / done * (self.total - done) if done > 0 else None
        self._report(done, eta)

    def finish(self) -> None:
        """The current stage is over (reported unless its last item already was)."""
        if self.stage is not None and self.last != self.total:
            self._report(self.total, 0.0)

    def _report(self, done: int, eta: float | None) -> None:
        assert self.stage is not None
        stage = self.stage
        self.last = done
        share = self.weights.get(stage, 0.0)
        fraction = min(1.0, self.done_share + share * done / self.total)
        label = TITLES[stage]
        if self.total > 1:
            label += f" {done}/{self.total}"
        text = format_eta(eta)
        if text and done < self.total:
            label += f", about {text} left"
        self.reports.append((label, fraction, eta))
        if self.on_progress is not None:
            self.on_progress(label, fraction)
        if self.echo and stage in ECHOED:
            click.echo(label, err=True)

    def hook(self, every: int = 1) -> Callable[[int, object], None]:
        """An optimization-loop hook advancing the current stage every ``every`` steps."""

        def on_step(step: int, gen: object) -> None:
            del gen
            if (step + 1) % max(1, every) == 0 or step + 1 == self.total:
                self.advance(step + 1)

        return on_step
