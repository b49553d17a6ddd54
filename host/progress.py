"""A small progress bar on stderr: count, percentage, rate and ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    """Seconds as m:ss or h:mm:ss."""
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Redraws one status line at most every `interval` seconds.

    On a terminal the line is redrawn in place; otherwise (CI logs) a line is
    printed at most every `log_interval` seconds so logs stay short. A `quiet`
    bar counts without drawing (runs side by side would garble one line).
    """

    def __init__(self, total: int, label: str = "", done: int = 0, stream: TextIO | None = None,
                 width: int = 28, interval: float = 0.2, log_interval: float = 10.0,
                 quiet: bool = False) -> None:
        self.total = total
        self.quiet = quiet
        self.label = label
        self.done = done
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.tty else log_interval
        self._start_done = done
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = -1
        self.note = ""

    def rate(self) -> float:
        """Items per second since this bar started (resumed items excluded)."""
        elapsed = time.monotonic() - self._start
        return (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The status line as it would be drawn now."""
        frac = self.done / self.total if self.total else 1.0
        filled = int(self.width * frac)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = self.rate()
        eta = _clock((self.total - self.done) / rate) if rate > 0 else "?"
        elapsed = _clock(time.monotonic() - self._start)
        text = (f"{self.label} [{bar}] {self.done}/{self.total} {100 * frac:5.1f}% "
                f"{rate:6.1f}/s elapsed {elapsed} eta {eta}")
        return text + (f"  {self.note}" if self.note else "")

    def update(self, n: int = 1, note: str | None = None) -> None:
        """Count `n` more items done and redraw if it is time."""
        self.done += n
        if note is not None:
            self.note = note
        now = time.monotonic()
        if now - self._last_draw >= self.interval or self.done >= self.total:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        self._drawn = self.done
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state (unless already shown) and end the line."""
        if self._drawn != self.done:
            self._draw()
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
