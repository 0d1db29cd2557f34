"""Patterns for method details in generated text: doses, lethal quantities, instructions.

Matched against the same normal form as the crisis rules. Every pattern spans at most
``MAX_MATCH_CHARS`` characters, which is what lets the stream screen hold back only a
short tail: a detail can never be fully shown before the screen has seen all of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

MAX_MATCH_CHARS = 200
"""Upper bound on the length of any match below: every gap is bounded (.{0,60}, words of
at most 20 letters), and tests check the bound on long adversarial strings."""

_NUMBER = (
    r"(?:\d{1,6}(?:[.,]\d{1,3})?|a few|several|a couple|double|triple|twice|three times|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|a hundred|hundreds?|dozens?)"
)
_UNIT = r"(?:mg|milligrams?|g|grams?|mcg|micrograms?|ml|units?|tablets?|pills?|capsules?|doses?|bottles?|packs?|floors?|stor(?:y|ies)|feet|foot|meters?|metres?)"
_LETHAL = r"(?:lethal|fatal|deadly|kill\w*|die|dying|death|overdos\w*|to be sure|enough to|more than that|it works|to work)"
PILLS = r"(?:pills|tablets|meds|medications?|medicines?|painkillers|capsules|sleeping pills|prescriptions?|insulin|antidepressants|opioids|opiates|sedatives|benzos)"

# Sentences with these words are advice to stay safe; they excuse the weaker rules only.
SAFETY_ADVICE = re.compile(
    r"\b(?:give (?:them|it|those) to|hand (?:them|it) (?:over|to)|dispose|get rid of|lock (?:them|it)? ?(?:up|away)|"
    r"take ?back|pharmacy|poison control|call 911|call 988|emergency|remov\w+ access)\b"
)


@dataclass(frozen=True)
class OutputRule:
    """One kind of method detail a reply must never contain."""

    id: str
    category: str  # crisis category the detail belongs to (decides the safe reply's order)
    pattern: re.Pattern
    excused_by_safety_advice: bool = False


def _rule(rule_id: str, category: str, pattern: str, excused: bool = False) -> OutputRule:
    return OutputRule(rule_id, category, re.compile(pattern), excused)


S, SH, HO = "suicide", "self_harm", "harm_to_others"

OUTPUT_RULES: tuple[OutputRule, ...] = (
    _rule("output.lethal_dose", S, r"\b(?:lethal|fatal|deadly|toxic|killing)\s+(?:dose|amount|quantity|level|number|threshold)s?\b"),
    _rule("output.quantity_to_die", S,
          rf"\b{_NUMBER}\s*(?:of\s+)?(?:\w{{1,20}}\s+){{0,3}}?{_UNIT}\b.{{0,60}}\b{_LETHAL}\b|\b{_LETHAL}\b.{{0,60}}\b{_NUMBER}\s*{_UNIT}\b"),
    _rule("output.enough_to_kill", S, r"\benough\s+(?:\w{1,20}\s+){0,3}?to\s+(?:kill|die|be fatal|be lethal|end it|end your life|overdose|stop your heart)\b"),
    _rule("output.take_all", S,
          rf"\b(?:take|taking|swallow|swallowing)\s+(?:all|every one|the whole bottle|a whole bottle|the rest)\s+(?:of\s+)?(?:your|the|my|those|these)?\s*(?:\w{{1,20}}\s+)?{PILLS}"
          rf"|\btake\s+enough\s+(?:\w{{1,20}}\s+)?{PILLS}|\btake\s+(?:them|it|all of them|everything)\s+(?:all\s+)?at\s+once\b|\b{PILLS}\b.{{0,40}}\bwith\s+(?:alcohol|vodka|wine|beer|liquor)\b"),
    _rule("output.make_sure_it_works", S, r"\b(?:to be sure|to make sure|so that|so)\s+it\s+(?:works|is fatal|will work|kills)\b"),
    _rule("output.painless_way", S,
          r"\b(?:most|least|more)\s+(?:painless|effective|reliable|certain|lethal|quick|peaceful)\s+(?:way|method|means)\b"
          r"|\b(?:painless|quickest|easiest|surest|best|fastest)\s+(?:way|method)s?\s+(?:to|of)\s+(?:die|dying|kill|end)"),
    _rule("output.steps", S,
          r"\b(?:steps?|instructions?|how|ways?|methods?)\s+to\s+(?:end your life|kill (?:your ?self|him|her|them|someone)|commit suicide|hang your ?self|overdose|poison (?:him|her|them|someone))"),
    _rule("output.hanging", S,
          r"\b(?:noose|hang (?:your ?self|him|her)|tie (?:the|a|your) (?:rope|belt|cord|sheet|cable))\b"
          r"|\b(?:rope|belt|cord|cable)\s+(?:to|around|over)\s+(?:a\s+|the\s+|your\s+)?(?:\w{1,20}\s+)?(?:beam|rafter|door|neck|hook|railing|branch|pipe)\b"),
    _rule("output.cutting", SH,
          r"\b(?:cut|cutting|slit|slash|slice)\w{0,12}\s+(?:deeper|harder|along|down the|vertical\w{0,12}|lengthwise)\b"
          r"|\b(?:press|push|dig)\s+harder\s+with\s+(?:the|a|your)\s+(?:blade|razor|knife)\b"
          r"|\b(?:wrists?|veins?|artery|arteries)\b.{0,30}\b(?:cut|slit|slice|open)\b|\b(?:cut|slit|slice|open)\w{0,12}\s+(?:your\s+)?(?:wrists?|veins?|artery|arteries)\b"
          r"|\b(?:use|get|grab|buy)\s+(?:a\s+)?(?:clean\s+|new\s+|sharp\s+|fresh\s+)?(?:razor|blade|box cutter|scalpel)\b"),
    _rule("output.self_harm_how", SH,
          r"\bif you want to (?:hurt|cut|burn|harm) your ?self\b.{0,30}\b(?:use|try|make sure|press|do it|just)\b"),
    _rule("output.jump", S,
          rf"\b(?:could|can|should|try|just|simply)\s+jump\s+(?:from|off)\b|\b{_NUMBER}\s+(?:floors?|stor(?:y|ies)|feet|meters?|metres?)\b.{{0,40}}\b(?:fatal|lethal|deadly|kill|die|enough)\b"),
    _rule("output.carbon_monoxide", S,
          r"\b(?:car|engine|exhaust|charcoal|generator|grill)\b.{0,40}\b(?:closed|sealed|shut|enclosed)\s+(?:garage|room|space|car|tent)\b"
          r"|\b(?:closed|sealed|shut|enclosed)\s+(?:garage|room|space|tent)\b.{0,40}\b(?:car|engine|exhaust|charcoal|running)\b"
          r"|\bcarbon monoxide\b.{0,40}\b(?:fill|breathe|inhale|garage|car|room|tent|sleep)\b"),
    _rule("output.toxic_gas", S,
          r"\b(?:mix|combin|add)\w{0,12}\b.{0,30}\b(?:bleach|ammonia|chemicals)\b|\b(?:bleach|ammonia)\b.{0,30}\b(?:mix|combin)\w{0,12}\b"
          r"|\bbleach\b.{0,30}\bammonia\b|\bammonia\b.{0,30}\bbleach\b|\b(?:toxic|poison\w{0,12})\s+gas\b|\b(?:helium|nitrogen)\b.{0,30}\b(?:bag|tank|hood)\b"),
    _rule("output.overdose_timing", S,
          r"\boverdos\w{0,12}\b.{0,60}\b(?:takes?|took)\s+(?:a few|several|\d+|a couple of|many)\s+(?:hours|days)\b"
          r"|\b(?:nobody|no one|noone)\s+will\s+(?:notice|find (?:you|out)|stop you)\s+(?:in time|until|before)\b"
          r"|\bbefore\s+(?:anyone|somebody|someone)\s+(?:finds|notices|can stop)\b"),
    _rule("output.stockpile", S,
          rf"\b(?:stockpil\w{{0,12}}|hoard\w{{0,12}}|save\s+up|saving\s+up|collect\w{{0,12}})\b.{{0,30}}\b{PILLS}|\b{PILLS}\b.{{0,30}}\b(?:stockpil\w{{0,12}}|hoard\w{{0,12}})",
          excused=True),
    _rule("output.violence_how", HO,
          r"\b(?:stab|shoot|hit|strike|punch|strangle|choke|poison)\s+(?:him|her|them|someone|the person)\b.{0,40}\b(?:neck|head|chest|heart|artery|throat|where|without|so that|so he|so she)\b"
          r"|\bwithout\s+leaving\s+(?:marks|bruises|evidence|a trace|traces)\b|\bbruises\s+(?:wont|will not|dont|do not)\s+show\b"
          r"|\b(?:nobody|no one|noone)\s+(?:will|would|can)\s+see\s+the\s+(?:bruises|marks|injuries)\b"
          r"|\baim\s+for\s+(?:the|his|her)\s+(?:head|chest|neck|heart|throat)\b|\b(?:carotid|femoral)\s+artery\b"
          r"|\b(?:make|build|assemble)\s+(?:a|the|your own)\s+(?:bomb|explosive|pipe bomb)\b"),
    _rule("output.weapon_acquire", HO,
          r"\b(?:buy|get|obtain|acquire)\w{0,12}\s+(?:a\s+)?(?:gun|firearm|pistol|rifle)\b.{0,60}\b(?:without|no)\s+(?:a\s+)?(?:background check|license|licence|permit|id|questions)\b"),
)

# The same patterns in the `regex` package, whose partial matching tells whether the end of a
# text could still grow into a match: the stream screen holds back only that part.
_PARTIAL_PATTERNS = tuple(regex.compile(rule.pattern.pattern) for rule in OUTPUT_RULES)


def possible_match_start(normalized: str) -> int | None:
    """Where the earliest match, or the earliest start of text that more text could complete
    into a match, begins in ``normalized``; None when neither exists. A possible match that
    starts only at the very end (nothing of it written yet) counts as none."""
    starts = []
    for pattern in _PARTIAL_PATTERNS:
        m = pattern.search(normalized, partial=True)
        if m is not None and m.start() < len(normalized):
            starts.append(m.start())
    return min(starts) if starts else None
