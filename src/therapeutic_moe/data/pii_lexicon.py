"""Given names of many countries, from Faker's person providers, beside the scrubber's own list.

The scrubber's own lexicon (pii_names.py) holds about a thousand names; fresh planted sets kept
missing names outside it with no cue ("Gretchen keeps calling", "it's Priscilla btw"). Faker (MIT
licence, maintained, pure Python, in the default install; requirements_moe.txt pins 40.54.0, the
version measured in docs/safety.md) ships the given names of about eighty
locales, from public name statistics: some 20,000 in the Latin alphabet. They are read offline from
the installed package, once, on first use.

A name that is also an everyday word must not make the word a name ("Will", "Hope", "Summer"):
a Faker name counts only capitalised, only when the English word list sees it rarely, and never
when it is a month, a feast, a place above the street, a big city or a word the scrubber's own
lists keep. Without Faker the scrubber keeps its own lexicon, and ``lexicon_available()`` says so.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from functools import lru_cache

from therapeutic_moe.data.pii_dictionary import dictionary_available, is_big_city, word_count
from therapeutic_moe.data.pii_names import (AMBIGUOUS_NAMES, COMMON_WORDS, FIRST_NAMES, LOWERCASE_WORDS, NOT_NAMES,
                                            NOT_PERSON_TERMS, PUBLIC_SINGLE_NAMES)
from therapeutic_moe.data.pii_places import NOT_SUB_STATE

# A capitalised Faker name the word list sees this often is as much a word as a name ("Lane",
# "Holly", "Chase"): left to the scrubber's own lists and cues. "Charlene" is seen 192 times.
_CAPITALISED_WORD_COUNT = 300
_LATIN_NAME = re.compile(r"^[A-Za-zÀ-ɏḀ-ỿ]{3,}(?:[-'][A-Za-zÀ-ɏḀ-ỿ]+)?$")
# Months, days and the feasts and fasts a locale's name list may hold too ("Ramadan" is a given name in some)
_CALENDAR_WORDS = frozenset("january february march april may june july august september october november december "
                            "monday tuesday wednesday thursday friday saturday sunday ramadan ramadhan ramazan ramzan "
                            "eid diwali deepavali holi hanukkah chanukah christmas easter lent passover pesach navratri "
                            "kwanzaa purim sukkot muharram ashura nowruz vesak onam pongal baisakhi vaisakhi advent "
                            "pentecost epiphany".split())
_NAME_LISTS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")


def _provider_names(provider: type) -> set[str]:
    """The given names one locale's Provider class holds (a tuple, or a dict of name -> weight)."""
    names: set[str] = set()
    for attr in _NAME_LISTS:
        for cls in provider.__mro__:  # the class attribute, not a property some locales define
            if attr in cls.__dict__:
                value = cls.__dict__[attr]
                if isinstance(value, (tuple, list, set, frozenset, dict)):
                    names |= {n for n in value if isinstance(n, str)}
                break
    return names


@lru_cache(maxsize=1)
def _faker_given_names() -> frozenset[str]:
    """Every locale's given names in the Latin alphabet, lower case, without accents (none without Faker)."""
    try:
        import faker.providers.person as person
    except ImportError:
        return frozenset()
    names: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = getattr(importlib.import_module(f"{person.__name__}.{module.name}"), "Provider", None)
        if provider is not None:
            names |= _provider_names(provider)
    return frozenset(_fold(n.lower()) for n in names if _LATIN_NAME.match(n))


def _fold(name: str) -> str:
    """"josé" -> "jose": the scrubber looks names up without their accents."""
    return "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))


def _kept_as_word(name: str) -> bool:
    """A word the scrubber's own lists, the month names or the places above the street keep."""
    return (name in AMBIGUOUS_NAMES or name in NOT_NAMES or name in COMMON_WORDS or name in LOWERCASE_WORDS
            or name in NOT_PERSON_TERMS or name in NOT_SUB_STATE or name in PUBLIC_SINGLE_NAMES
            or name in _CALENDAR_WORDS or is_big_city(name))


def more_given_names() -> frozenset[str]:
    """Lower-case Faker given names that are no everyday word, place or listed term; none without
    the English word list, which is what tells a name from a word."""
    return _filtered_names() if dictionary_available() else frozenset()


@lru_cache(maxsize=1)
def _filtered_names() -> frozenset[str]:
    return frozenset(n for n in _faker_given_names() - FIRST_NAMES
                     if not _kept_as_word(n) and word_count(n) < _CAPITALISED_WORD_COUNT)


def is_more_given_name(plain: str, capitalised: bool) -> bool:
    """``plain``: the word in lower case without accents. Capitalised only: in lower case the
    scrubber's own lexicon and cues decide, since casual typing makes every rare word look like
    a name ("yada yada"); Faker's names found no more planted names there."""
    return capitalised and plain in more_given_names()


def lexicon_available() -> bool:
    """True when Faker's names are installed (the default install has them)."""
    return bool(_faker_given_names())
