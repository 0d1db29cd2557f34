"""Faker's given names beside the scrubber's own lexicon, and the address forms found with them."""

from __future__ import annotations

import pytest

from therapeutic_moe.data import PiiScrubber, pii, pii_lexicon
from therapeutic_moe.data.pii_names import FIRST_NAMES

pytest.importorskip("faker")


def scrub(text: str) -> str:
    return PiiScrubber().scrub(text)


@pytest.mark.parametrize("text, expected", [
    ("Gretchen keeps calling me after midnight", "[NAME] keeps calling me after midnight"),
    ("we argued again, Kirsten and me, about the rent", "we argued again, [NAME] and me, about the rent"),
    ("Priscilla lent me her car for the interview", "[NAME] lent me her car for the interview"),
    # a second capital after a prefix: the whole name, and the surname after it
    ("my cousin LaToya Jennings drove me to the clinic", "my cousin [NAME] drove me to the clinic"),
    ("DeAndre has not texted back since Friday", "[NAME] has not texted back since Friday"),
])
def test_given_names_outside_the_own_lexicon_are_found_without_a_cue(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "During Ramadan my sleep is all over the place.",
    "Summer is always harder for me than winter.",
    "Will it ever get easier? Hope so. May is a long month.",
    "I walked down the lane and the holly was out.",
    "Birds, trees, yada yada, the usual.",  # lower case: Faker's names never decide
    "I watched YouTube and ate at McDonald's.",
])
def test_everyday_words_that_are_also_given_names_stay(text):
    assert scrub(text) == text


def test_the_lexicon_is_large_and_leaves_out_words_months_and_places():
    names = pii_lexicon.more_given_names()
    assert len(names) > 10_000 and not names & FIRST_NAMES
    assert {"gretchen", "kirsten", "priscilla"} <= names
    assert not {"will", "hope", "summer", "april", "june", "ramadan", "georgia", "dallas", "lane"} & names
    assert pii_lexicon.is_more_given_name("gretchen", capitalised=True)
    assert not pii_lexicon.is_more_given_name("gretchen", capitalised=False)


def test_without_faker_the_own_lexicon_still_works(monkeypatch, caplog):
    monkeypatch.setattr(pii_lexicon, "_faker_given_names", lambda: frozenset())
    monkeypatch.setattr(pii_lexicon, "_filtered_names", lambda: frozenset())
    assert not pii_lexicon.lexicon_available()
    assert scrub("Maria said I was overreacting.") == "[NAME] said I was overreacting."
    with caplog.at_level("WARNING"):
        pii.make_scrubber(True, None)
    assert "faker is not installed" in caplog.text


@pytest.mark.parametrize("text, expected", [
    ("our flat is 7 Harbour Street, Whakatāne 3120 and I hate it", "our flat is [ADDRESS] and I hate it"),
    ("she wrote down 12 Cedar Ct, Pocatello, ID 83201 for the hearing", "she wrote down [ADDRESS] for the hearing"),
    ("my student ID 4482913 is on the form", "my student ID [ID] is on the form"),
    ("the zip code, 30310, is on every letter", "the zip code, [ADDRESS], is on every letter"),
    ("we rent at Rua do Almada 40, 4050-036 Porto now", "we rent at [ADDRESS] now"),
    ("she moved to 2780-123 Oeiras last spring", "she moved to [ADDRESS] last spring"),
    ("grandpa's shop on Moi Avenue was where I felt safe", "grandpa's shop on [ADDRESS] was where I felt safe"),
])
def test_address_forms(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("it has been a year since ingrid solberg died", "it has been a year since [NAME] died"),  # a lower-case surname
    ("me and tobiah broke up in march", "me and [NAME] broke up in march"),
    ("his tiktok is dreamyfoxlights and it worries me", "his tiktok is [URL] and it worries me"),
])
def test_lower_case_surnames_people_and_plain_handles(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", ["my insta is private now", "her snapchat is deactivated again",
                                  "i miss anna so much"])
def test_plain_words_after_a_platform_or_a_name_stay(text):
    assert scrub(text).replace("[NAME]", "anna") == text


@pytest.mark.parametrize("text, expected", [
    ("GRETCHEN WOJCIECHOWSKA IS NOT ALLOWED AT THE SCHOOL", "[NAME] IS NOT ALLOWED AT THE SCHOOL"),
    ("the nurse, ms. abernathy-quill, was kind to me", "the nurse, ms. [NAME], was kind to me"),
    ("Odalys. that was her name. she held my hand", "[NAME]. that was her name. she held my hand"),
    ("my sister rents a room in Gangnam-gu now", "my sister rents a room in [ADDRESS] now"),
    ("he moved back to Tamale after the funeral", "he moved back to [ADDRESS] after the funeral"),
    ("grandad lives alone in Drumcondra since mum died", "grandad lives alone in [ADDRESS] since mum died"),
    ("our wedding was on 3. Oktober, I still count the days", "our wedding was on [DOB], I still count the days"),
    ("his inmate number was B8812-QX", "his inmate number was [ID]"),
    ("the car was 45-RTX-2 and it followed me", "the car was [ID] and it followed me"),
    ("now he messages me as dark.moth_07 on tiktok", "now he messages me as [URL] on tiktok"),
])
def test_forms_from_the_fifteenth_set(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", ["I HAVE ADHD AND PTSD AND THE NHS WONT HELP", "I GOT A DUI LAST YEAR",
                                  "WILL I EVER FEEL BETTER", "ask mr. nobody", "on 3. place in the race"])
def test_capitals_acronyms_and_titles_before_words_stay(text):
    assert scrub(text) == text
