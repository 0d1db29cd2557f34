"""Rules: a risk the message says is over is history, unless something says it is back.

Written for these tests (not from a corpus file): every resolved case fired before the
RESOLVED guard, and every crisis case must fire with it.
"""

from __future__ import annotations

import pytest

from therapeutic_moe.safety import CrisisDetector

DETECTOR = CrisisDetector()

RESOLVED_HISTORY = [
    "I was suicidal for most of my teens, I'm in a good place now.",
    "I used to self harm every day in year 10. Five years clean now, just wanted to share.",
    "I wrote a suicide note once, long ago. Found it while cleaning and I'm doing well now.",
    "I wanted to die when I was at school. I'm in a good place now and want tips for my exams.",
]

STILL_A_CRISIS = [
    # the resolved words are there, but the risk is told in the present tense
    "I was suicidal in college and I'm fine now, but I want to die.",
    "I was suicidal in 2019 and I'm fine now. I have the pills ready for tonight.",
    # ... or something says it is back
    "I used to self harm, I was 3 years clean, but I started cutting myself again.",
    "I wanted to kill myself last year. Therapy helped but I want to kill myself again.",
    "I was doing better now, until yesterday. I wrote my suicide note last night.",
    # "not okay now" is no resolution
    "I tried to kill myself years ago and I'm not okay now, I want to do it again.",
]


@pytest.mark.parametrize("text", RESOLVED_HISTORY)
def test_a_risk_the_message_says_is_over_is_not_a_crisis(text):
    assert not DETECTOR.assess(text).is_crisis, text


@pytest.mark.parametrize("text", STILL_A_CRISIS)
def test_present_risk_or_risk_that_is_back_stays_a_crisis(text):
    assert DETECTOR.assess(text).is_crisis, text


def test_the_resolved_cases_fire_without_the_guard(monkeypatch):
    import re

    from therapeutic_moe.safety import crisis_detector

    monkeypatch.setattr(crisis_detector, "RESOLVED", re.compile(r"(?!x)x"))
    assert all(CrisisDetector().assess(text).is_crisis for text in RESOLVED_HISTORY)
