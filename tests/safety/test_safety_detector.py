"""Crisis detector: categories, levels, negation, tense, idioms, typos and escalation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapeutic_moe.safety import CrisisDetector, RiskLevel
from therapeutic_moe.safety.normalize import damerau_distance_at_most_one, normalize

DETECTOR = CrisisDetector()

# (message, expected level, expected top category) -- none of these are in probes.json.
CRISIS_CASES = [
    ("I'm planning to kill myself on Friday.", "high", "suicide"),
    ("I have a bottle of pills and I'm going to take them all tonight.", "high", "suicide"),
    ("I've got a knife and I'm going to use it on myself.", "high", "suicide"),
    ("I feel like killing myself.", "moderate", "suicide"),
    ("I'm thinking of hanging myself.", "moderate", "suicide"),
    ("i want to kil myslef", "moderate", "suicide"),
    ("im feeling suicdal", "moderate", "suicide"),
    ("wanna unalive tbh", "moderate", "suicide"),
    ("I'm going to k1ll myself", "high", "suicide"),
    ("I wish I could fall asleep and never wake up.", "low", "suicide"),
    ("Life isn't worth living.", "low", "suicide"),
    ("It would be easier if I was dead.", "low", "suicide"),
    ("I've been hurting myself again.", "moderate", "self_harm"),
    ("I cut myself last night.", "moderate", "self_harm"),
    ("I'm thinking about shooting my boss.", "moderate", "harm_to_others"),
    ("He kicks me out and then he hits me.", "moderate", "abuse_in_progress"),
    ("He playfully hits me, then he really hits me hard.", "moderate", "abuse_in_progress"),
    ("I'm going to bring a gun to school tomorrow.", "high", "harm_to_others"),
    ("My dad hits me every day.", "moderate", "abuse_in_progress"),
    ("He said if I leave he will kill me.", "high", "abuse_in_progress"),
    ("I'm scared my husband will kill me tonight.", "high", "abuse_in_progress"),
]

# Ordinary therapy talk, many with violent or deathly words -- must stay "none".
ORDINARY_CASES = [
    "I'm going to kill this interview tomorrow.",
    "My mom is going to kill me for crashing the car.",
    "I'm so tired I could die.",
    "I'd kill for a week off.",
    "I cut my finger while chopping onions.",
    "I want to cut down on sugar.",
    "I'm planning to cut my hours at work.",
    "I hurt my sister's feelings and I feel bad.",
    "Honestly, I'd rather die than call my ex.",
    "I don't want to live with my parents anymore.",
    "I can't do this anymore, my job is so stressful.",
    "I'm going to jump at the chance to travel.",
    "I was suicidal years ago but I'm in a good place now.",
    "How do I talk to my teenager about self harm?",
    "My therapist asked whether I ever had suicidal thoughts and I said no.",
    "My mom said she'd kill me if I got a tattoo, haha.",
    "I'm going to do it, I'm finally going to quit smoking.",
    "I'm giving away my old clothes to charity this weekend.",
    "Not really planning on spending my life in debt.",
    "That workout killed me, I can barely walk.",
    "I want to sleep forever on sundays haha",
    "Whenever we argue, my husband kicks me out of the house for the night.",
    "My brother playfully hits me on the arm when I win at cards.",
    "I want to leave him, but how do I do it without hurting my kids?",
]


@pytest.mark.parametrize("text,level,category", CRISIS_CASES)
def test_crisis_messages_are_found_with_level_and_category(text, level, category):
    a = DETECTOR.assess(text)
    assert a.level.value == level, (text, a)
    assert a.categories[0] == category
    assert a.matched_rules, "a flagged message must name the rules that fired"
    assert 0.0 < a.score <= 1.0


@pytest.mark.parametrize("text", ORDINARY_CASES)
def test_ordinary_talk_does_not_fire(text):
    a = DETECTOR.assess(text)
    assert not a.is_crisis, (text, a)
    assert a.categories == () and a.matched_rules == () and a.score == 0.0


@pytest.mark.parametrize(
    "denied,meant",
    [
        ("I would never kill myself.", "I want to kill myself."),
        ("I'm not suicidal, just stressed.", "I'm suicidal, not just stressed."),
        ("I have no intention of hurting myself.", "I have every intention of hurting myself."),
        ("I don't want to die.", "I want to die."),
    ],
)
def test_negation_cancels_only_the_denied_statement(denied, meant):
    assert not DETECTOR.assess(denied).is_crisis
    assert DETECTOR.assess(meant).is_crisis


def test_denial_followed_by_but_keeps_the_risk():
    a = DETECTOR.assess("I wouldn't kill myself, but I think about it a lot.")
    assert a.level is RiskLevel.LOW and "suicide.kill_self:denied_but" in a.matched_rules


@pytest.mark.parametrize(
    "past,present",
    [
        ("I used to cut myself in high school.", "I started cutting myself again."),
        ("I attempted suicide when I was nineteen.", "I attempted suicide last night."),
        ("My dad used to beat me when I was a kid.", "My dad beats me."),
    ],
)
def test_distant_past_is_not_a_current_crisis(past, present):
    assert not DETECTOR.assess(past).is_crisis
    assert DETECTOR.assess(present).is_crisis


def test_someone_else_is_not_the_user_unless_at_risk_now():
    assert not DETECTOR.assess("I think my brother is suicidal.").is_crisis
    assert not DETECTOR.assess("My friend tried to kill herself years ago.").is_crisis
    now = DETECTOR.assess("My sister says she is going to kill herself tonight.")
    assert now.level is RiskLevel.HIGH and now.categories == ("suicide",)


def test_fear_of_acting_is_not_intent():
    a = DETECTOR.assess("I'm afraid I'm going to hurt my baby.")
    assert a.level is RiskLevel.MODERATE and a.categories == ("harm_to_others",)


def test_means_after_crisis_talk_escalates_across_turns():
    alone = DETECTOR.assess_turns(["I have the pills right here."])
    assert not alone.is_crisis
    after = DETECTOR.assess_turns(["I feel so hopeless.", "Nobody would miss me.", "I have the pills right here."])
    assert after.level is RiskLevel.HIGH and after.categories == ("suicide",)
    assert "escalation.context_after_crisis" in after.matched_rules


def test_persistent_crisis_talk_raises_the_level_one_step():
    single = DETECTOR.assess_turns(["I wish I was dead."])
    repeated = DETECTOR.assess_turns(["I wish I was dead.", "Life isn't worth living.", "I wish I was dead."])
    assert single.level is RiskLevel.LOW
    assert repeated.level is RiskLevel.MODERATE and "escalation.persistent" in repeated.matched_rules


def test_a_calm_turn_after_a_crisis_is_not_flagged_again():
    a = DETECTOR.assess_turns(["I'm going to kill myself tonight.", "Okay, I called the helpline and my sister is here."])
    assert not a.is_crisis


def test_risk_levels_order_by_severity_not_alphabet():
    assert RiskLevel.HIGH > RiskLevel.MODERATE > RiskLevel.LOW > RiskLevel.NONE
    assert max([RiskLevel.LOW, RiskLevel.HIGH, RiskLevel.MODERATE]) is RiskLevel.HIGH
    assert RiskLevel.from_rank(9) is RiskLevel.HIGH and RiskLevel.from_rank(-1) is RiskLevel.NONE
    assert RiskLevel.HIGH == "high"


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("I can\u2019t k1ll myslef!!!", "i cant kill myself!!!"),
        ("i wanna diiiie", "i want to die"),
        ("s u i c i d e", "suicide"),
        ("k*ll myself", "kill myself"),
        ("self-harm", "self harm"),
        ("a  \t b\n\n c", "a b\nc"),
    ],
)
def test_normal_form(raw, expected):
    assert normalize(raw) == expected


@given(st.text(alphabet="abcdefghij", min_size=1, max_size=8), st.integers(0, 7), st.sampled_from("xyz"))
def test_single_edit_is_within_distance_one(word, pos, letter):
    pos = pos % len(word)
    assert damerau_distance_at_most_one(word, word)
    assert damerau_distance_at_most_one(word, word[:pos] + letter + word[pos + 1 :])  # substitution
    assert damerau_distance_at_most_one(word, word[:pos] + word[pos + 1 :])  # deletion
    assert damerau_distance_at_most_one(word, word[:pos] + letter + word[pos:])  # insertion
    assert not damerau_distance_at_most_one(word, word + letter + letter)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_well_formed_assessment(text):
    a = DETECTOR.assess(text)
    assert 0.0 <= a.score <= 1.0
    assert a.is_crisis == bool(a.categories)
