"""Screening for streamed replies: show tokens as they come, minus a short held-back tail.

Why a tail is enough: every output rule matches at most ``MAX_MATCH_CHARS`` characters of
normalised text. Holding back at least that many characters means no character of a method
detail has been shown by the time its last character arrives and the screen sees the
whole of it; the reply is then cut and the safe reply follows what was already shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

from therapeutic_moe.safety.assessment import RiskLevel
from therapeutic_moe.safety.output_rules import MAX_MATCH_CHARS

if TYPE_CHECKING:
    from therapeutic_moe.safety.layer import SafetyLayer

# Normalising can shrink text ("s u i c i d e", "diiiie", runs of spaces), so the raw tail
# held back is somewhat longer than the longest normalised match.
DEFAULT_HOLDBACK_CHARS = MAX_MATCH_CHARS + 40
SEPARATOR = "\n\n"


class StreamScreen:
    """Feed generated chunks in, get the text that is safe to show now out."""

    def __init__(self, layer: "SafetyLayer", holdback_chars: int | None = None):
        self.layer = layer
        self.active = layer.screen_generated_text
        self.holdback = DEFAULT_HOLDBACK_CHARS if holdback_chars is None else int(holdback_chars)
        if self.active and self.holdback < MAX_MATCH_CHARS:
            raise ValueError(f"holdback_chars must be >= {MAX_MATCH_CHARS} (the longest method-detail match)")
        self._raw = ""  # everything generated so far
        self._emitted = 0  # how much of _raw has been shown
        self._screened = 0  # how much of _raw the last screening covered
        self._shown: list[str] = []
        self.blocked = False
        self.reasons: tuple[str, ...] = ()
        self.finished = False
        if self.active:
            layer._events.count("streams_screened")

    @property
    def text(self) -> str:
        """Everything shown to the reader so far."""
        return "".join(self._shown)

    def _show(self, piece: str) -> str:
        if piece:
            self._shown.append(piece)
        return piece

    def _screen_tail(self) -> bool:
        # A match that ends in the new text starts at most MAX_MATCH_CHARS (plus the
        # normalising margin) before it; older matches were screened on earlier calls.
        start = max(0, self._screened - self.holdback)
        self._screened = len(self._raw)
        while start > 0 and not self._raw[start - 1].isspace():  # never start the window mid-word
            start -= 1
        ids, cats = self.layer.method_details(self._raw[start:])
        if not ids:
            return False
        self.blocked, self.reasons = True, ids
        self.layer._events.emit("stream_blocked", RiskLevel.HIGH, cats, ids, self._raw)
        self._replacement = (SEPARATOR if self._emitted else "") + self.layer.safe_reply_for_blocked(cats)
        return True

    def feed(self, chunk: str) -> str:
        """Add a generated chunk; returns the text to show now (may be empty)."""
        if self.finished:
            raise RuntimeError("feed() after finish()")
        if not self.active:
            return self._show(chunk)
        if self.blocked:
            return ""
        self._raw += chunk
        if self._screen_tail():
            return self._show(self._replacement)
        limit = len(self._raw) - self.holdback
        if limit <= self._emitted:
            return ""
        cut = limit
        while cut > self._emitted and not self._raw[cut - 1].isspace():  # end on a word boundary
            cut -= 1
        if cut <= self._emitted:
            return ""
        piece, self._emitted = self._raw[self._emitted : cut], cut
        return self._show(piece)

    def finish(self) -> str:
        """Generation ended: returns the rest of the reply, or the safe reply if it was unsafe."""
        if self.finished:
            return ""
        self.finished = True
        if not self.active or self.blocked:
            return ""
        if self._screen_tail():
            return self._show(self._replacement)
        piece, self._emitted = self._raw[self._emitted :], len(self._raw)
        return self._show(piece)

    def filter(self, chunks: Iterable[str]) -> Iterator[str]:
        """Wrap a chunk iterator: yields only non-empty safe pieces, then the final piece."""
        for chunk in chunks:
            piece = self.feed(chunk)
            if piece:
                yield piece
            if self.blocked:
                break
        last = self.finish()
        if last:
            yield last
