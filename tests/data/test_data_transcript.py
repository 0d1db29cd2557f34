"""Speaker parsing: labels to roles, continuation lines, merging, configurable speakers."""

from __future__ import annotations

import pytest

from therapeutic_moe.data.transcript import Speakers, parse_transcript
from therapeutic_moe.errors import DataError


def _parse(text, speakers=None):
    return [(t.role, t.content) for t in parse_transcript(text, speakers or Speakers(), "t.json[0]")]


@pytest.mark.parametrize("text, expected", [
    ("Therapist: a\nClient: b", [("assistant", "a"), ("user", "b")]),
    ("Counselor: a\nPatient: b\nCounsellor: c\nUser: d\nAssistant: e",
     [("assistant", "a"), ("user", "b"), ("assistant", "c"), ("user", "d"), ("assistant", "e")]),
    ("Client: one\ntwo\n\nthree\nTherapist: ok", [("user", "one\ntwo\n\nthree"), ("assistant", "ok")]),
    ("Client: a\nClient: b\nTherapist: c\nTherapist: d", [("user", "a\nb"), ("assistant", "c\nd")]),
    ("therapist:   spaced  \nCLIENT: loud", [("assistant", "spaced"), ("user", "loud")]),
    ("Therapist: meet at 10:30\nNote: bring the sheet\nStep 1: breathe", [
        ("assistant", "meet at 10:30\nNote: bring the sheet\nStep 1: breathe")]),
    ("Therapist: see https://example.org\n  Mother: indented, so part of the turn",
     [("assistant", "see https://example.org\n  Mother: indented, so part of the turn")]),
    ("Client: a\nTherapist:\nClient: b\nTherapist: c", [("user", "a\nb"), ("assistant", "c")]),
])
def test_parse(text, expected):
    assert _parse(text) == expected


def test_custom_speakers():
    speakers = Speakers(assistant=("Coach",), user=("Maria", "Speaker 2"))
    assert _parse("Coach: hi\nMaria: hey\nSpeaker 2: me too\nCoach: welcome", speakers) == [
        ("assistant", "hi"), ("user", "hey\nme too"), ("assistant", "welcome")]
    with pytest.raises(DataError, match="unknown speaker label.*'Therapist' \\(line 1\\)"):
        _parse("Therapist: hi\nMaria: hey", speakers)


def test_same_label_on_both_sides_is_refused():
    with pytest.raises(DataError, match="both assistant_speakers and user_speakers"):
        Speakers(assistant=("Therapist",), user=("therapist",))
