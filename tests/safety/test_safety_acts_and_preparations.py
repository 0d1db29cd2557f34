"""Crisis rules for acts already done and for preparations, stated plainly, and the ordinary
talk that shares their words (own wording; none of these are in the crisis corpora)."""

from __future__ import annotations

import pytest

from therapeutic_moe.safety import CrisisDetector

DETECTOR = CrisisDetector()

# (message, expected level, expected top category)
DONE_OR_PREPARED = [
    ("I took the whole bottle", "high", "suicide"),
    ("I took like 25 of my dad's pills", "high", "suicide"),
    ("I swallowed a packet of paracetamol an hour ago", "high", "suicide"),
    ("I took everything in the medicine cabinet", "high", "suicide"),
    ("I downed my whole prescription", "high", "suicide"),
    ("I drank some drain cleaner", "high", "suicide"),
    ("I overdosed, I'm so sorry", "high", "suicide"),
    ("I tried to end it this morning", "high", "suicide"),
    ("I already cut", "moderate", "self_harm"),
    ("I wrote letters to everyone", "high", "suicide"),
    ("I gave my dog to my sister", "high", "suicide"),
    ("I've been giving all my stuff away", "high", "suicide"),
    ("I made a goodbye video and saved it for my parents", "high", "suicide"),
    ("I sold my bike because I won't need it", "high", "suicide"),
    ("I'm sending my last messages to everyone tonight", "high", "suicide"),
    ("I have urges to smother my newborn", "moderate", "harm_to_others"),
    ("I'm going to run her over", "high", "harm_to_others"),
    ("I've got my brother's rifle and I'm waiting outside her house", "high", "harm_to_others"),
    ("I'm going to make them all suffer", "high", "harm_to_others"),
]

STAYS_QUIET = [
    "I took two ibuprofen for my headache",
    "I took 20 mg of prozac this morning",
    "I took all my meds this morning like the doctor said",
    "my dog ate rat poison and we rushed to the vet",
    "I gave my old bike to my nephew",
    "I gave my dog to my sister while I'm on vacation",
    "I wrote letters to my grandma",
    "we signed a goodbye card for a coworker who is leaving",
    "this is my last message for today, goodnight",
    "I said my last goodbyes to grandpa at the funeral",
    "I said goodbye to my friends at the airport",
    "I already cut the vegetables",
    "I attempted the exam yesterday",
    "I tried to end it with him yesterday",
    "I need to run my kids to school",
    "I could kill my brother for eating my fries",
    "I'm going to make them pay for dinner",
]


@pytest.mark.parametrize("text,level,category", DONE_OR_PREPARED)
def test_acts_done_and_preparations_are_found(text, level, category):
    a = DETECTOR.assess(text)
    assert (a.level.value, a.categories[:1]) == (level, (category,)), (text, a)


@pytest.mark.parametrize("text", STAYS_QUIET)
def test_ordinary_talk_with_the_same_words_stays_quiet(text):
    a = DETECTOR.assess(text)
    assert not a.is_crisis, (text, a)
