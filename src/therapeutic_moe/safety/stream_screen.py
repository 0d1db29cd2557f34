"""Screening for streamed replies: show text as it comes, holding back only what could still
become a method detail.

The guarantee: no character of a method detail is shown before the screen has seen all of
it; the reply is then cut and the safe reply follows what was already shown. Every output
rule matches at most ``MAX_MATCH_CHARS`` characters of normalised text, so a fixed tail of
that length would be enough, but it delays every reply by a few dozen tokens. Instead, after
each piece the screen asks the rules (through partial matching) where the earliest text that
more text could still complete into a match begins, and holds back from one word before it.
Text before that point can never be part of a match, whatever comes next; ordinary text with
no such start streams word by word (the last, unfinished word is always held: its normal form
can still change).
"""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol

from therapeutic_moe.safety.assessment import RiskLevel
from therapeutic_moe.safety.normalize import normalize
from therapeutic_moe.safety.output_rules import MAX_MATCH_CHARS, possible_match_start

# Normalising can shrink text ("s u i c i d e", "diiiie", runs of spaces), so the raw window
# screened for a match is somewhat longer than the longest normalised match.
DEFAULT_HOLDBACK_CHARS = MAX_MATCH_CHARS + 40
SEPARATOR = "\n\n"
MARGIN_WORDS = 1  # held before a possible match: normalising joins a few forms across words


class EventSink(Protocol):
    def count(self, name: str) -> None: ...

    def emit(self, kind: str, level: RiskLevel, categories, rules, text: str) -> None: ...


class ScreeningLayer(Protocol):
    """What the screen needs from the safety layer (a Protocol, so this module imports no layer)."""

    screen_generated_text: bool
    _events: EventSink

    def method_details(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]: ...

    def safe_reply_for_blocked(self, categories) -> str: ...


def _normal_form(text: str) -> str:
    """normalize(), keeping one space after a finished last word: normalize() strips it, and
    without it "I" would look like the start of "if ..." and be held for nothing."""
    return normalize(text) + (" " if text and text[-1].isspace() else "")


def _word_starts(text: str, start: int) -> list[int]:
    """Positions >= start where a word begins (after whitespace), in order."""
    return [i for i in range(max(start, 1), len(text)) if text[i - 1].isspace() and not text[i].isspace()]


class StreamScreen:
    """Feed generated chunks in, get the text that is safe to show now out."""

    def __init__(self, layer: ScreeningLayer, holdback_chars: int | None = None):
        self.layer = layer
        self.active = layer.screen_generated_text
        # The window screened on every piece, and the most text ever held back.
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

    def _window_start(self, since: int) -> int:
        start = max(0, since - self.holdback)
        while start > 0 and not self._raw[start - 1].isspace():  # never start the window mid-word
            start -= 1
        return start

    def _block_if_match(self, window: int) -> bool:
        ids, cats = self.layer.method_details(self._raw[window:])
        if not ids:
            return False
        self.blocked, self.reasons = True, ids
        self.layer._events.emit("stream_blocked", RiskLevel.HIGH, cats, ids, self._raw)
        self._replacement = (SEPARATOR if self._emitted else "") + self.layer.safe_reply_for_blocked(cats)
        return True

    def _safe_limit(self, window: int, normal: str, start: int | None) -> int:
        """How much of _raw can be shown now: up to the last word start, and from one word
        before a possible match on, nothing (``normal``/``start``: the window's normal form and
        where its earliest possible match begins)."""
        raw = self._raw
        limit = len(raw)
        if raw and not raw[-1].isspace():  # the last word may still be growing
            while limit > self._emitted and not raw[limit - 1].isspace():
                limit -= 1
        if start is None:
            return limit
        needed = len(normal) - start  # normalised length the held tail must cover
        starts = [s for s in _word_starts(raw, max(window, self._emitted)) if s < limit]
        # The latest word start whose tail covers the possible match (tails only grow leftwards).
        index = next((i for i in range(len(starts) - 1, -1, -1) if len(_normal_form(raw[starts[i]:])) >= needed), None)
        if index is None or index - MARGIN_WORDS < 0:
            return self._emitted
        return min(limit, starts[index - MARGIN_WORDS])

    def feed(self, chunk: str) -> str:
        """Add a generated chunk; returns the text to show now (may be empty)."""
        if self.finished:
            raise RuntimeError("feed() after finish()")
        if not self.active:
            return self._show(chunk)
        if self.blocked:
            return ""
        self._raw += chunk
        # A match that ends in the new text starts at most MAX_MATCH_CHARS (plus the
        # normalising margin) before the text screened last time.
        window = self._window_start(self._screened)
        self._screened = len(self._raw)
        normal = _normal_form(self._raw[window:])
        start = possible_match_start(normal)  # a full match is a possible match too
        if start is not None and self._block_if_match(window):
            return self._show(self._replacement)
        # Text older than the window can no longer be part of a match: shown in any case.
        forced = len(self._raw) - self.holdback
        while forced > self._emitted and not self._raw[forced - 1].isspace():  # end on a word boundary
            forced -= 1
        cut = max(self._safe_limit(window, normal, start), forced)
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
        if self._block_if_match(self._window_start(self._screened)):
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
