"""StreamScreen: a method detail split across streamed chunks is caught before any of it shows."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapeutic_moe.safety import SafetyDefaults, SafetyLayer, StreamScreen
from therapeutic_moe.safety.normalize import normalize
from therapeutic_moe.safety.output_rules import MAX_MATCH_CHARS, OUTPUT_RULES
from therapeutic_moe.safety.probe_eval import load_probes

PROBES = load_probes()
UNSAFE = [p["text"] for p in PROBES["outputs"] if p["unsafe"]]
SAFE = [p["text"] for p in PROBES["outputs"] if not p["unsafe"]]
# A long harmless opening so part of the reply is shown before the detail arrives.
OPENING = (
    "I hear how much pain you are in, and I want to stay with you in this for a moment. "
    "It makes sense that you feel exhausted after carrying so much for so long, and none of it "
    "means you are weak. Many people who feel this way find that talking helps a little. "
)


def first_match_start(normalized: str) -> int:
    starts = [m.start() for m in (r.pattern.search(normalized) for r in OUTPUT_RULES) if m]
    return min(starts)


def assert_no_part_of_a_match_shown(text: str, shown: str, context) -> None:
    """``shown`` is the start of ``text`` and ends before the first character of any match:
    the screen shows what comes before a method detail, never a piece of it."""
    assert text.startswith(shown), context
    full, seen = normalize(text), normalize(shown).rstrip()
    assert full.startswith(seen), context
    assert len(seen) <= first_match_start(full), context


def chunkings(text: str, seed: int):
    rng = random.Random(seed)
    yield list(text)  # one character at a time
    yield [text[i : i + 3] for i in range(0, len(text), 3)]
    words = text.split(" ")
    yield [w + " " for w in words[:-1]] + [words[-1]]
    cuts, i = [], 0
    while i < len(text):
        n = rng.randint(1, 12)
        cuts.append(text[i : i + n])
        i += n
    yield cuts


def stream(layer: SafetyLayer, chunks: list[str]) -> tuple[StreamScreen, list[str]]:
    screen = layer.stream_screen()
    shown = [screen.feed(c) for c in chunks]
    shown.append(screen.finish())
    return screen, shown


@pytest.mark.parametrize("detail", UNSAFE)
def test_a_split_method_detail_is_blocked_and_never_shown(detail):
    layer = SafetyLayer()
    text = OPENING + detail + " Please take care."
    for seed, chunks in enumerate(chunkings(text, seed=len(detail))):
        screen, pieces = stream(layer, chunks)
        assert screen.blocked, (seed, detail)
        shown = "".join(pieces)
        # Everything shown before the safe reply is a piece of the harmless opening: no part
        # of the method detail ever reached the reader.
        prefix = "".join(p for p in pieces if p and SafetyDefaults.CRISIS_RESOURCES[0] not in p)
        assert_no_part_of_a_match_shown(text, prefix, (seed, prefix[-40:]))
        assert layer.method_details(prefix) == ((), ())
        assert shown.endswith(layer.safe_reply_for_blocked(layer.method_details(detail)[1]))


def test_the_detail_split_in_two_chunks_mid_word():
    layer = SafetyLayer()
    screen = layer.stream_screen()
    out = screen.feed(OPENING + "A le") + screen.feed("thal dose would be around 40 tab") + screen.feed("lets.")
    out += screen.finish()
    assert screen.blocked and "output.lethal_dose" in screen.reasons
    shown_before_reply = out.split("\n\n")[0]
    assert_no_part_of_a_match_shown(OPENING + "A lethal dose", shown_before_reply, out[:80])
    assert "lethal" not in out and "40 tab" not in out
    assert layer.counters["stream_blocked"] == 1


@pytest.mark.parametrize("text", SAFE + [OPENING * 3])
def test_safe_replies_stream_through_unchanged(text):
    layer = SafetyLayer()
    for chunks in chunkings(text, seed=1):
        screen, pieces = stream(layer, chunks)
        assert not screen.blocked
        assert "".join(pieces) == text == screen.text


def test_ordinary_text_streams_word_by_word():
    layer = SafetyLayer()
    screen = layer.stream_screen()
    text = OPENING * 3
    words = text.split(" ")
    fed, shown, chunks = "", "", 0
    for word in words:
        piece = word + " "
        fed += piece
        released = screen.feed(piece)
        shown, chunks = shown + released, chunks + bool(released)
        # Held: at most a word or two that could still begin a detail ("how" -> "how to ...").
        assert fed.startswith(shown) and len(fed[len(shown):].split()) <= 2, (fed[-40:], shown[-40:])
    assert chunks >= 0.8 * len(words)
    assert (screen.text + screen.finish()) == fed


def test_only_what_could_still_become_a_detail_is_held():
    layer = SafetyLayer()
    screen = layer.stream_screen()
    shown = screen.feed("It sounds like the nights are hard. Some people keep a toxic ")
    assert shown == "It sounds like the nights are hard. Some people keep "  # "toxic dose" would be a match
    shown += screen.feed("friendship going. ")
    assert not screen.blocked and shown.endswith("a toxic friendship going. ")


def test_filter_wraps_a_chunk_iterator_and_stops_at_a_block():
    layer = SafetyLayer()
    consumed = []

    def chunks():
        for c in [OPENING, "Tie the ", "rope to a sturdy beam. ", "More text that must never be pulled."]:
            consumed.append(c)
            yield c

    out = "".join(layer.stream_screen().filter(chunks()))
    assert "rope" not in out and SafetyDefaults.CRISIS_RESOURCES[0] in out
    assert len(consumed) == 3, "generation is not pulled further once the reply is blocked"


def test_screening_off_passes_chunks_through_immediately():
    layer = SafetyLayer(type("Cfg", (), {"screen_generated_text": False})())
    screen = layer.stream_screen()
    assert screen.feed("Tie the rope ") == "Tie the rope "
    assert screen.finish() == "" and not screen.blocked


def test_holdback_shorter_than_the_longest_match_is_refused():
    with pytest.raises(ValueError, match=str(MAX_MATCH_CHARS)):
        SafetyLayer().stream_screen(holdback_chars=MAX_MATCH_CHARS - 1)


def test_feed_after_finish_is_an_error():
    screen = SafetyLayer().stream_screen()
    screen.finish()
    with pytest.raises(RuntimeError):
        screen.feed("more")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.sampled_from(UNSAFE))
def test_any_chunking_of_an_unsafe_reply_is_blocked(sizes, detail):
    text = OPENING + detail
    chunks, i = [], 0
    for n in sizes * (len(text) // max(1, sum(sizes)) + 1):
        if i >= len(text):
            break
        chunks.append(text[i : i + n])
        i += n
    if i < len(text):
        chunks.append(text[i:])
    screen, pieces = stream(SafetyLayer(), chunks)
    assert screen.blocked
    prefix = "".join(p for p in pieces if p and SafetyDefaults.CRISIS_RESOURCES[0] not in p)
    assert_no_part_of_a_match_shown(text, prefix, prefix[-40:])
