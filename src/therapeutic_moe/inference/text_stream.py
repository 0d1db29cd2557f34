"""Turn generated token ids into text pieces as they arrive.

Decoding each token alone breaks multi-byte characters and the spacing rules of some
tokenizers, so (like HF's TextStreamer and vLLM) a short window of previous tokens is decoded
together and only the new suffix is released; an incomplete character (U+FFFD at the end)
is held back until the next token completes it.
"""

from __future__ import annotations


class IncrementalDecoder:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""
        self._prefix_offset = 0
        self._read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def add(self, token: int) -> str:
        """Append one token id; returns the text it completes ('' while a character is incomplete)."""
        self.ids.append(int(token))
        prefix = self._decode(self.ids[self._prefix_offset:self._read_offset])
        full = self._decode(self.ids[self._prefix_offset:])
        if len(full) > len(prefix) and not full.endswith("\ufffd"):
            piece = full[len(prefix):]
            self._prefix_offset, self._read_offset = self._read_offset, len(self.ids)
            self.text += piece
            return piece
        return ""

    def flush(self) -> str:
        """Release whatever is still held back (an incomplete character stays as U+FFFD)."""
        if self._read_offset >= len(self.ids):
            return ""
        prefix = self._decode(self.ids[self._prefix_offset:self._read_offset])
        full = self._decode(self.ids[self._prefix_offset:])
        piece = full[len(prefix):]
        self._prefix_offset = self._read_offset = len(self.ids)
        self.text += piece
        return piece
