"""Scatter plots whose point labels never overlap: each other, or any point.

Points whose markers overlap on the plot (variants with the same figures)
share one label naming them all (`groups`). Labels are placed by a
deterministic greedy search in display pixels (`place_labels`, plain
geometry, no matplotlib): labels are taken top to bottom, and each goes to
the first free spot on rings of growing radius around its point, trying the
right side first. A label that had to move away from its point gets a leader
line. `scatter` draws the figure with matplotlib (imported only when a plot
is drawn) and `save` writes it as a PNG.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

from kiln.atomic import write_atomic

#: Figure size (inches) and resolution: placement is done in this figure's pixels,
#: so the PNG is saved at the same resolution.
FIGSIZE = (7.5, 4.8)
DPI = 100
FONT_SIZE = 8
#: Marker side in pixels (the scatter's `s` is its area in points squared).
MARKER_PX = 8.0
#: The least distance, in pixels, between a label and anything else.
GAP_PX = 2.0
#: Label angles around a point, in degrees, in order of preference: right first.
ANGLES = (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180)


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in display coordinates (y grows upwards)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, gap: float = 0.0) -> bool:
        """True when the two boxes come closer than `gap` (touching counts when gap > 0)."""
        return not (self.x1 + gap <= other.x0 or other.x1 + gap <= self.x0
                    or self.y1 + gap <= other.y0 or other.y1 + gap <= self.y0)

    def within(self, outer: Box) -> bool:
        """True when the box lies inside `outer`."""
        return outer.x0 <= self.x0 and self.x1 <= outer.x1 and outer.y0 <= self.y0 and self.y1 <= outer.y1


@dataclass(frozen=True)
class Placed:
    """Where a label went, and whether it is far enough from its point to need a leader line."""

    box: Box
    leader: bool


def _ring(anchor: tuple[float, float], size: tuple[float, float], radius: float) -> list[Box]:
    """Label boxes whose edge facing the point is `radius` away from it, one per angle of ANGLES."""
    (ax, ay), (w, h) = anchor, size
    boxes = []
    for deg in ANGLES:
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        cx, cy = ax + c * (radius + w / 2), ay + s * (radius + h / 2)
        boxes.append(Box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return boxes


def groups(points: list[tuple[float, float]], marker: float = MARKER_PX) -> list[list[int]]:
    """The points (display pixels) whose markers overlap, directly or through others, as lists
    of indices in input order; the groups ordered by their first index."""
    parent = list(range(len(points)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, (xi, yi) in enumerate(points):
        for j in range(i):
            xj, yj = points[j]
            if abs(xi - xj) < marker and abs(yi - yj) < marker:
                parent[root(i)] = root(j)
    found: dict[int, list[int]] = {}
    for i in range(len(points)):
        found.setdefault(root(i), []).append(i)
    return sorted(found.values())


def place_labels(anchors: list[tuple[float, float]], sizes: list[tuple[float, float]], bounds: Box,
                 points: list[tuple[float, float]] | None = None, marker: float = MARKER_PX,
                 gap: float = GAP_PX) -> list[Placed]:
    """A box for each label (sizes[i] = (width, height)) near anchors[i], all inside `bounds`
    when there is room, none overlapping another label or the marker of any of `points`
    (default: the anchors).

    Deterministic: the same input gives the same placement. When `bounds` has no free
    spot left, a label goes in a column to the right of `bounds`, still apart from the others.
    """
    if len(anchors) != len(sizes):
        raise ValueError(f"{len(anchors)} points but {len(sizes)} label sizes")
    half = marker / 2
    centres = anchors if points is None else points
    markers = [Box(x - half, y - half, x + half, y + half) for x, y in centres]
    step = max(2.0, min((h for _, h in sizes), default=8.0) / 2)
    near = half + gap
    # Enough rings to reach every corner of `bounds` from any point inside it.
    rings = int(math.hypot(bounds.x1 - bounds.x0, bounds.y1 - bounds.y0) / step) + 2
    taken: list[Box] = []
    placed: list[Placed | None] = [None] * len(anchors)
    spill_top = bounds.y1
    # Top to bottom, then left to right; ties by input order.
    for i in sorted(range(len(anchors)), key=lambda k: (-anchors[k][1], anchors[k][0], k)):
        choice = None
        for ring in range(rings):
            for box in _ring(anchors[i], sizes[i], near + ring * step):
                if box.within(bounds) and not any(box.overlaps(o, gap) for o in (*taken, *markers)):
                    choice = Placed(box, leader=ring > 0)
                    break
            if choice:
                break
        if choice is None:  # no room inside: a column beside the plot area
            w, h = sizes[i]
            box = Box(bounds.x1 + gap, spill_top - h, bounds.x1 + gap + w, spill_top)
            spill_top -= h + gap
            choice = Placed(box, leader=True)
        taken.append(choice.box)
        placed[i] = choice
    return [p for p in placed if p is not None]


def scatter(points: list[tuple[float, float, str]], xlabel: str, ylabel: str, title: str,
            note: str = ""):  # noqa: ANN201 - a matplotlib Figure (matplotlib is imported lazily)
    """A figure with one point per (x, y, label), points that overlap on the plot sharing one
    label ("a, b"); `note` is printed in the plot area (e.g. why there are no points). The
    caller saves it with `save`."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on build machines
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    ax.scatter(xs, ys, s=(MARKER_PX * 72 / DPI) ** 2, marker="s", zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", color="0.4")
    # Room for labels around the points; then the layout and limits are frozen, because
    # labels are placed in pixels and must stay where they were put.
    ax.margins(0.25, 0.2)
    ax.autoscale_view()
    fig.tight_layout()
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    renderer = fig.canvas.get_renderer()
    shown = [tuple(a) for a in ax.transData.transform(list(zip(xs, ys, strict=True)))] if points else []
    clusters = groups(shown)
    labels = [", ".join(points[i][2] for i in members) for members in clusters]
    # A shared label belongs to the middle of its group.
    anchors = [(sum(shown[i][0] for i in group) / len(group), sum(shown[i][1] for i in group) / len(group))
               for group in clusters]
    sizes = []
    for label in labels:
        probe = ax.text(0, 0, label, fontsize=FONT_SIZE)
        extent = probe.get_window_extent(renderer)
        sizes.append((extent.width, extent.height))
        probe.remove()
    frame = ax.get_window_extent(renderer)
    bounds = Box(frame.x0, frame.y0, frame.x1, frame.y1)
    to_data = ax.transData.inverted()
    for label, anchor, spot in zip(labels, anchors, place_labels(anchors, sizes, bounds, shown), strict=True):
        tx, ty = to_data.transform((spot.box.x0, spot.box.y0))
        ax.text(tx, ty, label, fontsize=FONT_SIZE, ha="left", va="bottom", clip_on=False)
        if spot.leader:
            # From the point to the nearest point of the label's box.
            bx = min(max(anchor[0], spot.box.x0), spot.box.x1)
            by = min(max(anchor[1], spot.box.y0), spot.box.y1)
            (ax0, ay0), (lx, ly) = to_data.transform([anchor, (bx, by)])
            ax.plot([ax0, lx], [ay0, ly], color="0.5", linewidth=0.6, zorder=2, clip_on=False)
    return fig


def save(fig, path: str | os.PathLike) -> None:  # noqa: ANN001 - a matplotlib Figure
    """Write the figure as a PNG at the resolution its labels were placed in, atomically."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    write_atomic(path, buf.getvalue())
