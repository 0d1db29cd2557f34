"""Streaming text: incomplete characters are held back; screened text keeps routing aligned."""

from __future__ import annotations

from therapeutic_moe.inference.routing import TokenRouting
from therapeutic_moe.inference.safety_bridge import ScreenedStream
from therapeutic_moe.inference.text_stream import IncrementalDecoder


class ByteTokenizer:
    """One token per UTF-8 byte: multi-byte characters span several tokens."""

    def decode(self, ids, skip_special_tokens=True, clean_up_tokenization_spaces=False):
        return bytes(ids).decode("utf-8", errors="replace")


def test_multibyte_characters_are_released_whole():
    text = "héllo € ok ✓"
    decoder = IncrementalDecoder(ByteTokenizer())
    pieces = [decoder.add(b) for b in text.encode("utf-8")]
    assert "".join(pieces) + decoder.flush() == text == decoder.text
    assert all("\ufffd" not in p for p in pieces)
    assert "" in pieces  # some bytes completed nothing on their own


def test_flush_releases_a_truncated_character_as_replacement():
    decoder = IncrementalDecoder(ByteTokenizer())
    for b in "a€".encode("utf-8")[:-1]:
        decoder.add(b)
    assert decoder.flush() == "\ufffd" and decoder.text == "a\ufffd"


class HoldUntilSpaceRedacting:
    """A stream screen for tests: holds text until a space, redacts the word 'secret'."""

    def __init__(self):
        self.buffer, self.blocked, self.reasons = "", False, []

    def feed(self, text):
        self.buffer += text
        if " " not in self.buffer:
            return ""
        cut = self.buffer.rindex(" ") + 1
        out, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return self._clean(out)

    def finish(self):
        out, self.buffer = self.buffer, ""
        return self._clean(out)

    def _clean(self, text):
        if "secret" in text:
            self.reasons.append("redacted")
            return text.replace("secret", "[redacted]")
        return text


def entry(text, expert):
    return TokenRouting(text=text, expert=expert, domain=f"d{expert}", weights=[], layer_experts=[])


def test_screened_stream_aligns_routing_with_released_text():
    stream = ScreenedStream(HoldUntilSpaceRedacting())
    chunks = []
    for i, piece in enumerate(["he", "llo ", "my ", "sec", "ret ", "wor", "ld"]):
        chunks += stream.feed(piece, entry(piece, i % 3))
    chunks += stream.finish()
    shown = "".join(c.text for c in chunks)
    assert shown == stream.text == "hello my [redacted] world"
    for c in chunks:  # every chunk's routing covers exactly its text
        assert "".join(r.text for r in c.routing) == c.text
    assert "".join(r.text for r in stream.routing) == shown
    assert [r.expert for r in stream.routing][:3] == [0, 1, 2]  # untouched pieces keep their experts
    assert "secret" not in "".join(r.text for r in stream.routing)
    assert stream.reasons == ["redacted"]
