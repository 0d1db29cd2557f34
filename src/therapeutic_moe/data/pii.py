"""Scrub personal identifiers from turn text before tokenization, with counts per kind.

Regex and word-list heuristics, no model: emails, URLs, phone numbers, SSN-like and cued ID
numbers, dates of birth (after a birth cue), street addresses, and person names (see
``_name_spans``). It runs on turn content only, so speaker labels are never touched. What
it cannot catch is listed in docs/data.md; treat it as a safety net, not a guarantee.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Iterable

from therapeutic_moe.data.domains import did_you_mean
from therapeutic_moe.data.pii_names import AMBIGUOUS_NAMES, FIRST_NAMES, NOT_NAMES
from therapeutic_moe.data.types import Conversation, Turn
from therapeutic_moe.errors import ConfigError

# Applied in this order: an email holds a domain (URL) and a URL holds digits (phone/ID).
# The names are the ones safety_config.json's pii_kinds accepts.
PLACEHOLDERS = {"email": "[EMAIL]", "url": "[URL]", "date_of_birth": "[DOB]", "id_number": "[ID]",
                "phone": "[PHONE]", "address": "[ADDRESS]", "name": "[NAME]"}
PII_KINDS = tuple(PLACEHOLDERS)

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}"
         rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
         rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?)")
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Terrace"
           r"|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Close|Crescent|Row|Trail|Grove)\b\.?")
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Ste|Flat|#)\.?\s*#?\w+)?"
_CITY_STATE_ZIP = r"(?:,\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?(?:,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"

# kind -> [(pattern, group to replace)]; group 0 replaces the whole match.
_PATTERNS: dict[str, list[tuple[re.Pattern, int]]] = {
    "email": [(re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), 0)],
    "url": [
        (re.compile(r"\b(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]']", re.I), 0),
        (re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|us|uk|info|me|edu|gov|app|ly)"
                    r"(?:/[^\s<>\"]*[^\s<>\".,;:!?)\]'])?(?!\w|\.\w)", re.I), 0),
    ],
    "date_of_birth": [(re.compile(rf"(?i:\bborn(?:\s+on)?|\bdate\s+of\s+birth|\bd\.?o\.?b\.?|\bbirth\s*date|\bbirthday"
                        rf"(?:\s+is)?)\s*(?:is|was|as|:)?\s*({_DATE})"), 1)],
    "id_number": [
        (re.compile(r"(?<![\w-])\d{3}[- ]\d{2}[- ]\d{4}(?![\w-])"), 0),  # SSN-like
        (re.compile(r"(?<![\w-])\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}(?![\w-])"), 0),  # card-like
        (re.compile(r"(?i:\b(?:id|identification|account|acct|member|policy|patient|record|mrn|licen[cs]e|passport"
                    r"|insurance|case|ssn|social security|nhs|student|employee|badge|reference|ref)\b\.?"
                    r"(?:\s*(?:number|no\.?|num|#|id))?\s*(?:is|:|#)?\s*)((?=[A-Z0-9-]*\d{4})[A-Z0-9][A-Z0-9-]{3,})"), 1),
    ],
    "phone": [
        (re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w-])"), 0),
        (re.compile(r"(?<![\w-])(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"), 0),
        (re.compile(r"(?<![\w-])0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\w-])"), 0),
        (re.compile(r"(?<![\w-])\d{3}-\d{4}(?![\w-])"), 0),
        (re.compile(r"(?<![\w-])\d{10,11}(?![\w-])"), 0),
    ],
    "address": [
        (re.compile(rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[A-Z0-9][\w'-]*\s+){{1,4}}{_STREET}{_UNIT}{_CITY_STATE_ZIP}"), 0),
        (re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d+", re.I), 0),
        (re.compile(r"(?i:\b(?:live|lives|living|moved|grew up)\s+(?:on|at)\s+)((?:[A-Z][a-z]+\s+){1,3}"
                    r"(?:Street|Avenue|Road|Lane|Drive|Boulevard|Court|Terrace))\b"), 1),
    ],
}

_DIGIT = re.compile(r"\d")
_DIGIT_KINDS = ("date_of_birth", "id_number", "phone")  # every pattern of these needs a digit: skip digit-free text fast

_NAME_TOKEN = re.compile(r"\b[A-Z][a-z]*(?:['’-][A-Z][a-z]+)*\b")
_KIN = (r"mom|mother|mum|dad|father|sister|brother|son|daughter|wife|husband|partner|boyfriend|girlfriend"
        r"|friend|best friend|boss|aunt|uncle|cousin|grandmother|grandfather|grandma|grandpa|niece|nephew"
        r"|coworker|co-worker|colleague|roommate|ex|fianc[ée]e?|teacher|neighbou?r|kid|child|stepdad|stepmom"
        r"|stepson|stepdaughter|manager|supervisor|sponsor|doctor|therapist|counselor|counsellor")
# Text right before a token that makes it a name even if the word list does not know it.
_STRONG_CUE = re.compile(
    r"(?:\b(?i:my name is|my name's|name's|call me|named)"
    r"|\b(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Professor|Rev|Reverend|Pastor|Coach|Officer|Detective|Judge|Nurse"
    r"|Aunt|Auntie|Uncle|Grandma|Grandpa|Nana)\.?"
    rf"|\b(?i:my|his|her|our|their|your)\s+(?i:{_KIN})\s*,?"
    r"|(?:^|[.!?]\s|\n)\s*(?i:hi|hello|hey|thanks|thank you|okay|ok|well|yes|no|sorry|welcome|bye|goodbye"
    r"|good morning|good afternoon|good evening|dear)\s*,?)\s+$"
)
# Weaker cue: only a known given name (ambiguous ones included) counts after it.
_WEAK_CUE = re.compile(r"\b(?i:i'm|i’m|i am|this is|it's|it is)\s+$")
_VOCATIVE_END = re.compile(r",\s+$")
_LOWERCASE_NAME = re.compile(r"\b(?i:my name is|my name's|call me)\s+([a-z]+)\b")


def _is_name_word(word: str) -> bool:
    return len(word) > 1 and word.lower() not in NOT_NAMES


def _name_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of likely person names (first name plus an adjacent capitalised surname)."""
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
            (lower in FIRST_NAMES)
            or (_is_name_word(word) and _STRONG_CUE.search(before) is not None)
            or (lower in AMBIGUOUS_NAMES and _WEAK_CUE.search(before) is not None)
            # "..., Maria." / "..., Maria?" addresses the listener by name
            or (_is_name_word(word) and lower not in AMBIGUOUS_NAMES and _VOCATIVE_END.search(before) is not None
                and after[:1] in (".", "?", "!") and after[1:2] in ("", " ", "\n"))
        )
        if not is_name:
            continue
        end = tok.end()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and text[end:nxt.start()] == " " and _is_name_word(nxt.group()):
            end = nxt.end()  # surname
        spans.append((tok.start(), end))
        skip_until = end
    for match in _LOWERCASE_NAME.finditer(text):
        if match.group(1) in FIRST_NAMES:
            spans.append(match.span(1))
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
            elif kind in _DIGIT_KINDS and not _DIGIT.search(text):
                continue
            else:
                spans = [m.span(group) for pattern, group in _PATTERNS[kind] for m in pattern.finditer(text)]
                spans = _drop_overlaps(spans)
            if spans:
                self.counts[kind] += len(spans)
                text = _replace_spans(text, spans, PLACEHOLDERS[kind])
        return text

    def scrub_conversation(self, conv: Conversation) -> Conversation:
        return replace(conv, turns=[Turn(t.role, self.scrub(t.content)) for t in conv.turns])


def _drop_overlaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if not kept or start >= kept[-1][1]:
            kept.append((start, end))
    return kept


def make_scrubber(enabled: bool, kinds: Iterable[str] | None) -> PiiScrubber | None:
    """The scrubber the safety config asks for, or None when scrubbing is off."""
    return PiiScrubber(tuple(kinds) if kinds else PII_KINDS) if enabled else None
