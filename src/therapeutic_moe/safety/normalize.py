"""Text clean-up shared by the crisis rules and the output screen.

Rules are written against this normal form: lower case, no apostrophes ("can't" -> "cant",
"i'm" -> "im"), hyphens as spaces, leetspeak and a few common typos of the key words undone,
letter runs of three or more cut to two. Keeping the rules on one form keeps them short.
"""

from __future__ import annotations

import re
import unicodedata

# Words the rules key on; a misspelling one edit away is mapped back to them. Only words
# with no common English neighbour one edit away are here ("killing" would catch "willing").
FUZZY_TARGETS = ("suicide", "suicidal", "myself", "overdose", "overdosing", "unalive", "herself", "himself")
_NEVER_FUZZED = {"overdone", "mysely"}
# Stretched spellings ("diiie" -> "diie" after run-cutting) of short key words.
_STRETCHED_TARGETS = ("die", "dead", "alive", "unalive", "suicide", "suicidal", "myself")

# Typos and chat spellings seen often enough to name one by one.
TYPO_MAP = {
    "slef": "self",
    "sefl": "self",
    "selfharm": "self harm",
    "selfharming": "self harming",
    "cuting": "cutting",
    "cuttin": "cutting",
    "kiling": "killing",
    "killin": "killing",
    "hiting": "hitting",
    "hittin": "hitting",
    "wanna": "want to",
    "wana": "want to",
    "gonna": "going to",
    "gunna": "going to",
    "goin": "going",
    "kms": "kill myself",
    "sewerslide": "suicide",
    "suicided": "suicide",
    "unalived": "unalive",
    "agian": "again",
    "agin": "again",
    "u": "you",
    "ur": "your",
    "rn": "right now",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "2nite": "tonight",
    "tonite": "tonight",
}

_LEET = str.maketrans({"1": "i", "3": "e", "0": "o", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`\u00b4']")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
_TOKEN = re.compile(r"[a-z0-9@$!*]+")
_SPACED_LETTERS = re.compile(r"\b(?:[a-z][ .\-_]){3,}[a-z]\b")
_RUNS = re.compile(r"([a-z])\1{2,}")
_HYPHEN_IN_WORD = re.compile(r"(?<=[a-z])[-_/](?=[a-z])")


def damerau_distance_at_most_one(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True  # one substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def _wildcard_match(token: str, word: str) -> bool:
    return len(token) == len(word) and all(t == "*" or t == w for t, w in zip(token, word))


def _fix_token(match: re.Match) -> str:
    token = match.group(0)
    trailing = ""
    while token and token[-1] in "!*":
        trailing, token = token[-1] + trailing, token[:-1]
    trailing = trailing.replace("*", "")
    if not token:
        return match.group(0).replace("*", "")
    letters = sum(c.isalpha() for c in token)
    if letters >= 2 and letters < len(token) and "*" not in token:
        token = token.translate(_LEET)
    if "*" in token:  # self-censored spelling such as "k*ll" or "su*cide"
        for word in FUZZY_TARGETS + ("kill", "die", "dead", "cut", "self"):
            if _wildcard_match(token, word):
                return word + trailing
        return token.replace("*", "") + trailing
    if token in TYPO_MAP:
        return TYPO_MAP[token] + trailing
    single = re.sub(r"([a-z])\1", r"\1", token)
    if single != token and single in _STRETCHED_TARGETS:
        return single + trailing
    if len(token) >= 5 and token not in FUZZY_TARGETS and token not in _NEVER_FUZZED:
        for word in FUZZY_TARGETS:
            if damerau_distance_at_most_one(token, word):
                return word + trailing
    return token + trailing


def normalize(text: str) -> str:
    """The normal form the rules match against (see module docstring)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _ZERO_WIDTH.sub("", text).lower()
    text = _APOSTROPHES.sub("", text)
    text = _SPACED_LETTERS.sub(lambda m: re.sub(r"[ .\-_]", "", m.group(0)), text)
    text = _HYPHEN_IN_WORD.sub(" ", text)
    text = _RUNS.sub(r"\1\1", text)
    text = _TOKEN.sub(_fix_token, text)
    # One space or one newline per gap keeps every "\s+" in a rule to a single character,
    # which is what bounds the length of an output-rule match.
    text = re.sub(r"[^\S\n]*\n\s*", "\n", text)
    text = re.sub(r"[^\S\n]+", " ", text)
    return text.strip()


_SENTENCE_END = re.compile(r"(?:[.!?;\n]+|\s-\s)")


def sentences(normalized: str) -> list[str]:
    """Split normal-form text into sentences; negation and tense are judged per sentence."""
    return [s.strip(" ,") for s in _SENTENCE_END.split(normalized) if s.strip(" ,")]
