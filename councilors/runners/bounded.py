"""The one bound on a run's output, shared by every runner: at most OUTPUT_MAX_BYTES kept in all,
at most OUTPUT_MAX_LINE_BYTES of each line, and a marker wherever something was dropped.

Text is fed as it comes (any chunking); whole lines go to `on_output` as they complete, so the live
stream (Redis, SSE), the stored output and the API all see the same lines and the same markers.
Memory held: the kept output (≤ the limit) plus the start of the current line (≤ the line limit).
"""

import io

from councilors.app_settings import app_settings
from councilors.runners.base import OutputCallback

OUTPUT_TRUNCATED = "[output truncated: more than %(limit)d bytes]"
LINE_TRUNCATED = " [line truncated: more than %(limit)d bytes]"
NUL_REPLACEMENT = "\ufffd"
# What the total marker may add past the limit: a line end before it, its digits, its own line end.
TRUNCATION_SLACK = len(OUTPUT_TRUNCATED % {"limit": 10**20}) + 2


def output_truncated_marker(limit: int | None = None) -> str:
    """The line that ends an output cut at `limit` bytes (default: the setting)."""
    return OUTPUT_TRUNCATED % {"limit": app_settings.OUTPUT_MAX_BYTES if limit is None else limit}


def _cut(text: str, limit: int) -> tuple[str, bool]:
    """The longest start of `text` that fits in `limit` UTF-8 bytes, and whether anything was cut."""
    head = text[: max(limit, 0)]  # every character is at least one byte: no more can fit
    encoded = head.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return head, len(head) < len(text)
    return encoded[:limit].decode("utf-8", "ignore"), True


class BoundedOutput:
    """Collects a run's output text, keeping what the limits allow and dropping (not holding) the rest."""

    def __init__(
        self,
        *,
        on_output: OutputCallback | None = None,
        max_bytes: int | None = None,
        max_line_bytes: int | None = None,
    ) -> None:
        self.on_output = on_output
        self.max_bytes = app_settings.OUTPUT_MAX_BYTES if max_bytes is None else max_bytes
        self.max_line_bytes = app_settings.OUTPUT_MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes
        self.full = False
        self._kept = io.StringIO()
        self._kept_bytes = 0
        self._line: list[str] = []
        self._line_bytes = 0
        self._line_cut = False

    def feed(self, text: str) -> None:
        """Add the next piece of output; lines it completes are kept (as far as they fit) and passed on."""
        # PostgreSQL text cannot hold NUL: a command printing one must not make its run unrecordable.
        text = text.replace("\x00", NUL_REPLACEMENT)
        start = 0
        while not self.full:
            end = text.find("\n", start)
            if end < 0:
                self._add_to_line(text[start:])
                return
            self._add_to_line(text[start:end])
            self._end_line("\n")
            start = end + 1

    def close(self) -> None:
        """The output is over: keep its last line, which has no line end."""
        if not self.full and (self._line or self._line_cut):
            self._end_line("")

    def text(self) -> str:
        """The output as kept, with its markers."""
        return self._kept.getvalue()

    def _add_to_line(self, piece: str) -> None:
        if self._line_cut or not piece:
            return  # the rest of a line already cut is dropped as it comes
        kept, cut = _cut(piece, self.max_line_bytes - self._line_bytes)
        self._line.append(kept)
        self._line_bytes += len(kept.encode("utf-8", "surrogatepass"))
        self._line_cut = cut

    def _end_line(self, ending: str) -> None:
        marker = LINE_TRUNCATED % {"limit": self.max_line_bytes} if self._line_cut else ""
        line = "".join(self._line) + marker + ending
        self._line, self._line_bytes, self._line_cut = [], 0, False
        self._keep(line)

    def _keep(self, line: str) -> None:
        size = len(line.encode("utf-8", "surrogatepass"))
        if self._kept_bytes + size <= self.max_bytes:
            self._kept_bytes += size
            self._emit(line)
            return
        head, _ = _cut(line, self.max_bytes - self._kept_bytes)
        if head and not head.endswith("\n"):
            head += "\n"
        self.full = True
        self._emit(head + output_truncated_marker(self.max_bytes) + "\n")

    def _emit(self, text: str) -> None:
        self._kept.write(text)
        if self.on_output is not None:
            self.on_output(text)


def bound_text(text: str, *, max_bytes: int | None = None) -> str:
    """`text` as a run would have kept it: unchanged within the limits, else cut and marked."""
    bounded = BoundedOutput(max_bytes=max_bytes)
    bounded.feed(text)
    bounded.close()
    return bounded.text()
