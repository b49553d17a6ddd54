"""Weight layouts chosen per layer for the board's flash (OPTIMIZE=fit|speed|size).

The optimized kernels that keep their weights pre-widened to int16 in flash
(KernelImpl.wide_weights) are faster and take twice the weight bytes. A layer
kept to int8 weights ("narrow") runs the int8-weight kernel of its set when
there is one (fully connected) and the portable kernel otherwise.

  speed  every layer in its fastest layout; an error when that does not fit
  size   int8 weights in every layer where that saves SIZE_MIN_SAVING bytes or more (a
         few hundred bytes of int16 copies in the small layers keep their fastest
         kernels: the fused stem and pool of fashion_mnist, for one); all of them when
         the board needs it
  fit    (default) the speed layout, unless it would not fit the board's flash:
         then the layers whose int8 weights save the most bytes for the least
         speed are narrowed, one by one, until the image fits

The estimate of what fits is the generated constants (weights, records,
tables) plus CODE_RESERVE for the code: the runtime, app and board of an
image take 30 to 60 KB. The linker still checks the real image, and its
overflow error is worded by the firmware tool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiln.errors import KilnError
from kiln.firmware import OPTIMIZE_GOALS

GOALS = OPTIMIZE_GOALS
DEFAULT_GOAL = OPTIMIZE_GOALS[0]


#: The size layout keeps a layer's int16 weights when int8 ones would save fewer bytes.
SIZE_MIN_SAVING = 512

#: Flash kept for everything but the model's constants (runtime kernels, app,
#: board support, the generated calls and descriptor).
CODE_RESERVE = 96 * 1024

#: Estimated extra instructions per MAC when a layer leaves its int16-weight kernel:
#: for the int8-weight FC (one SXTB16 per weight word, fc_w8_s8.c), another int8-weight
#: kernel of the same set (two SXTB16 per weight word), and the portable kernel.
_LOSS_PER_MAC = {"FULLY_CONNECTED": 0.15, "same_set": 0.4, "portable": 6.0}


@dataclass(frozen=True)
class Budget:
    """What the layouts must fit: the board's flash, or None when no board is given."""

    goal: str = DEFAULT_GOAL
    flash_bytes: int | None = None
    board: str = ""
    #: size: the least bytes a layer's int8 weights must save for it to narrow (0: all do).
    min_saving: int = SIZE_MIN_SAVING
    #: False (SPARSE=off): sparse weight layouts are passed over for the dense ones.
    sparse: bool = True

    def __post_init__(self) -> None:
        if self.goal not in GOALS:
            raise KilnError(f"unknown OPTIMIZE '{self.goal}': use one of {', '.join(GOALS)}")

    @property
    def constants_limit(self) -> int | None:
        """Bytes the model's constants may take, or None without a flash size."""
        return None if self.flash_bytes is None else self.flash_bytes - CODE_RESERVE


@dataclass
class LayerCost:
    """One layer of a speed-layout build: what narrowing it would save and cost."""

    op_index: int
    weight_bytes: int
    macs: int
    wide: bool
    op: str = ""


def _narrow_set(costs: list[LayerCost], narrowed_set_of: Callable[[int], str], over: int) -> set[int]:
    """The layers to keep to int8 weights so that `over` bytes are saved, cheapest first
    (estimated instructions lost per byte saved)."""
    ranked = []
    for c in costs:
        if not c.wide or c.weight_bytes <= 0:
            continue
        if narrowed_set_of(c.op_index) == "portable":
            loss = _LOSS_PER_MAC["portable"]
        else:
            loss = _LOSS_PER_MAC.get(c.op, _LOSS_PER_MAC["same_set"])
        saved = c.weight_bytes // 2      # int16 -> int8 halves the weight part (records stay)
        ranked.append((loss * c.macs / max(saved, 1), c.op_index, saved))
    narrow: set[int] = set()
    for _, index, saved in sorted(ranked):
        if over <= 0:
            break
        narrow.add(index)
        over -= saved
    return narrow


def choose(budget: Budget, build: Callable[[set[int] | None], tuple[int, list[LayerCost]]],
           narrowed_set_of: Callable[[int], str], model: str) -> set[int] | None:
    """The layers to narrow (None: all) for `budget`. `build(narrow)` compiles the model with
    that choice and returns its constants' bytes and per-layer costs; its last call is the
    chosen build. `narrowed_set_of(i)` is the kernel set operator i gets when narrowed.
    Raises KilnError with the numbers when nothing fits."""
    size_layout = "the size layout with int8 weights everywhere"
    limit = budget.constants_limit
    if budget.goal == "size":
        _, costs = build(set())
        narrow = {c.op_index for c in costs if c.wide and c.weight_bytes // 2 >= budget.min_saving}
        total, _ = build(narrow)
        if limit is None or total <= limit:
            return narrow
        total, _ = build(None)
        _check_fits(budget, total, model, size_layout)
        return None
    total, costs = build(set())
    if limit is None or total <= limit:
        return set()
    if budget.goal == "speed":
        narrow_total, _ = build(None)
        hint = ("OPTIMIZE=fit (the default) keeps some layers' weights int8 and fits"
                if narrow_total <= limit else f"Even {size_layout} takes {narrow_total:,} B. {_SMALLER}")
        raise KilnError(f"{model} does not fit {budget.board} with OPTIMIZE=speed: its weights and "
                        f"constants take {total:,} B; {_room(budget)} ({total - limit:,} B too many). "
                        f"{hint}")
    narrow = _narrow_set(costs, narrowed_set_of, total - limit)
    total, _ = build(narrow)
    if total > limit:  # the estimate was short: every wide layer narrows
        total, _ = build(None)
        _check_fits(budget, total, model, size_layout)
        return None
    return narrow


_SMALLER = "Use a smaller model (fewer channels or layers) or a board with more flash"


def _room(budget: Budget) -> str:
    return (f"{budget.board} has {budget.flash_bytes:,} B of flash and the code needs about "
            f"{CODE_RESERVE:,} B of it, so {budget.constants_limit:,} B are left")


def _check_fits(budget: Budget, total: int, model: str, layout: str) -> None:
    limit = budget.constants_limit
    if limit is None or total <= limit:
        return
    raise KilnError(f"{model} does not fit {budget.board}: {layout} takes {total:,} B of weights "
                    f"and constants; {_room(budget)} ({total - limit:,} B too many). {_SMALLER}")
