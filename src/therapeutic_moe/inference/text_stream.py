"""Turn generated token ids into text pieces as they arrive, ending at a stop string.

Decoding each token alone breaks multi-byte characters and the spacing rules of some
tokenizers, so (like HF's TextStreamer and vLLM) a short window of previous tokens is decoded
together and only the new suffix is released; an incomplete character (U+FFFD at the end)
is held back until the next token completes it.

Stop strings (OpenAI ``stop``): the reply ends before the first occurrence of any of them and
never contains it. A stop string can span tokens, so the decoder holds back only the text
that could still be the start of one (the longest suffix that is a prefix of a stop string);
everything before it is released at once.
"""

from __future__ import annotations

from collections.abc import Sequence


def held_suffix_length(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop string."""
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:n]):
                best = n
                break
    return best


class IncrementalDecoder:
    def __init__(self, tokenizer, stop: Sequence[str] = ()):
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.ids: list[int] = []
        self.text = ""  # released text (never past a stop string)
        self.stopped = False  # a stop string was found; nothing more is released
        self._held = ""  # decoded text that may be the start of a stop string
        self._prefix_offset = 0
        self._read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def _release(self, piece: str) -> str:
        if self.stopped:
            return ""
        if not self.stop:
            self.text += piece
            return piece
        buffer = self._held + piece
        hits = [i for i in (buffer.find(s) for s in self.stop) if i >= 0]
        if hits:
            self.stopped, self._held = True, ""
            released = buffer[:min(hits)]
        else:
            keep = held_suffix_length(buffer, self.stop)
            released, self._held = buffer[:len(buffer) - keep], buffer[len(buffer) - keep:]
        self.text += released
        return released

    def add(self, token: int) -> str:
        """Append one token id; returns the text it completes ('' while a character is incomplete
        or the text may still turn into a stop string)."""
        self.ids.append(int(token))
        prefix = self._decode(self.ids[self._prefix_offset:self._read_offset])
        full = self._decode(self.ids[self._prefix_offset:])
        if len(full) > len(prefix) and not full.endswith("\ufffd"):
            piece = full[len(prefix):]
            self._prefix_offset, self._read_offset = self._read_offset, len(self.ids)
            return self._release(piece)
        return ""

    def flush(self) -> str:
        """Release whatever is still held back (an incomplete character stays as U+FFFD; text
        held as a possible stop string is released, since the stop never completed)."""
        piece = ""
        if self._read_offset < len(self.ids):
            prefix = self._decode(self.ids[self._prefix_offset:self._read_offset])
            full = self._decode(self.ids[self._prefix_offset:])
            piece = full[len(prefix):]
            self._prefix_offset = self._read_offset = len(self.ids)
        released = self._release(piece)
        if not self.stopped and self._held:
            released, self.text, self._held = released + self._held, self.text + self._held, ""
        return released
