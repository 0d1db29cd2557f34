"""Rule-based crisis detection for user messages, before any text is generated.

How a message is scored (see crisis_rules.py for the rules themselves):
1. The text is normalised (normalize.py) and split into sentences.
2. Every rule is matched per sentence. A match is dropped when the sentence matches the
   rule's exception (accidents, idioms, teaching talk), when a negator stands just before
   it in the same clause ("I would never kill myself"), when the clause is about the
   distant past with nothing saying "again/still/now" ("I used to self-harm in high
   school"), when the sentence is told in the past and the message says the risk is over
   with nothing saying it is back ("I was suicidal in college, I'm in a good place now"),
   or, for first-person rules, when the subject is someone else.
3. A denial followed by "but I think about it" keeps the denied category at low.
4. Per category: the strongest category rule's points (low 1, moderate 2, high 3) plus
   the context points (means 2, plan 2, preparations 1.5, vague intent 1, timing 0.5-1)
   give the level: >= 3 high, >= 2 moderate, >= 1 low. Self-harm stays at moderate unless
   a medical-emergency rule fired. With no category rule, two context kinds together
   (means and a plan, preparations and intent, ...) infer one.
5. Across turns (``assess_turns``): danger signs after earlier crisis talk ("I have the
   pills right here") inherit that talk's category; crisis talk in several recent turns
   raises the level one step; a crisis turn never reports below a recent higher one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from therapeutic_moe.safety.assessment import CATEGORIES, NO_CRISIS, CrisisAssessment, RiskLevel
from therapeutic_moe.safety.crisis_rules import (
    CATEGORY_RULES,
    CONTEXT_RULES,
    CONTEXT_WEIGHT_OVERRIDES,
    DISTANT_PAST,
    FEAR_WORDS,
    FIRST_PERSON,
    INFERENCE_KINDS,
    INTENT_WORDS,
    NEGATION_EXCEPTIONS,
    NEGATORS,
    PAST_TELLING,
    PRESENT_AGAIN,
    RESOLVED,
    RISK_IS_BACK,
    THIRD_PARTY_RULE_IDS,
    THIRD_PERSON,
    TIMING_KINDS,
    CrisisRule,
)
from therapeutic_moe.safety.normalize import normalize, sentences

_CLAUSE_BREAK = re.compile(r"\b(?:but|though|however|although|yet|except)\b")
_NEGATION_BREAK = re.compile(r"[,:]|\b(?:but|though|however|although|yet|except|and then)\b")
_BUT_CONTINUES = re.compile(
    r"\bbut\b.{0,80}\b(?:think|thought|thinking|wonder\w*|cross\w* my mind|tempt\w*|sometimes|part of me|how i would|wish)\b"
)
_WORD = re.compile(r"[a-z0-9]+")
NEGATION_WINDOW = 4  # tokens before a match searched for "not", "never", ...
SELF_HARM = "self_harm"
SOMEONE_ELSE_SUFFIX = ":someone_else"  # a rule id's mark: the words were about another person's risk
_USER_IN_MATCH = re.compile(r"\b(?:i|im|ive|id|ill|me|my|mine|my ?self)\b")
OTHERS_OWN_RISK = frozenset({"suicide", SELF_HARM})  # harm to others and abuse are never re-read so


@dataclass
class _CategoryEvidence:
    points: float = 0.0
    level: RiskLevel = RiskLevel.NONE
    rule_ids: list[str] = field(default_factory=list)

    def add(self, level: RiskLevel, points: float, rule_id: str) -> None:
        if rule_id not in self.rule_ids:
            self.rule_ids.append(rule_id)
        if points > self.points:
            self.points, self.level = points, max(level, self.level)


@dataclass
class _Context:
    kind: str
    weight: float
    rule_id: str
    implies: str | None


@dataclass
class MessageEvidence:
    """Everything the rules found in one message, before levels are decided."""

    categories: dict[str, _CategoryEvidence] = field(default_factory=dict)
    contexts: dict[str, _Context] = field(default_factory=dict)


def _level_from_points(points: float) -> RiskLevel:
    if points >= 3.0:
        return RiskLevel.HIGH
    if points >= 2.0:
        return RiskLevel.MODERATE
    if points >= 1.0:
        return RiskLevel.LOW
    return RiskLevel.NONE


def _is_negated(before: str) -> bool:
    tail = _NEGATION_BREAK.split(before)[-1]
    tokens = _WORD.findall(tail)
    window = tokens[-NEGATION_WINDOW:]
    for i, token in enumerate(window):
        if token in NEGATORS:
            following = window[i + 1] if i + 1 < len(window) else ""
            if following not in NEGATION_EXCEPTIONS:
                return True
    return False


def _has_negator(matched: str) -> bool:
    tokens = _WORD.findall(matched)
    return any(
        t in NEGATORS and (i + 1 >= len(tokens) or tokens[i + 1] not in NEGATION_EXCEPTIONS)
        for i, t in enumerate(tokens)
    )


def _about_someone_else(before: str) -> bool:
    last_third = max((m.end() for m in THIRD_PERSON.finditer(before)), default=-1)
    last_first = max((m.end() for m in FIRST_PERSON.finditer(before)), default=-1)
    return last_third > last_first


def _clause_bounds(sentence: str, pos: int) -> tuple[int, int]:
    start, end = 0, len(sentence)
    for m in _CLAUSE_BREAK.finditer(sentence):
        if m.start() <= pos:
            start = m.start()
        elif m.start() > pos:
            end = m.start()
            break
    return start, end


class CrisisDetector:
    """Scores user messages for suicide, self-harm, harm to others and abuse happening now.

    Stateless and cheap (a few hundred regex searches per message), so one instance can be
    shared across threads.
    """

    def __init__(
        self,
        category_rules: tuple[CrisisRule, ...] = CATEGORY_RULES,
        context_rules: tuple[CrisisRule, ...] = CONTEXT_RULES,
    ):
        self.category_rules = category_rules
        self.context_rules = context_rules

    # -- one message -------------------------------------------------------------------
    def evidence(self, text: str) -> MessageEvidence:
        found = MessageEvidence()
        denied: list[tuple[CrisisRule, str]] = []  # (rule, text after the denied match)
        normalized = normalize(text)
        resolved = bool(RESOLVED.search(normalized)) and not RISK_IS_BACK.search(normalized)
        for sentence in sentences(normalized):
            for rule in self.category_rules + self.context_rules:
                hit = self._match(rule, sentence, resolved)
                if hit is None:
                    continue
                outcome, level, rest = hit
                if outcome == "denied":
                    denied.append((rule, rest))
                    continue
                if rule.category:
                    rule_id = rule.id + (":intent" if level > rule.level else "")
                    rule_id += SOMEONE_ELSE_SUFFIX if outcome == "someone_else" else ""
                    found.categories.setdefault(rule.category, _CategoryEvidence()).add(
                        level, max(rule.weight, 3.0 if level is RiskLevel.HIGH else 0.0), rule_id
                    )
                else:
                    previous = found.contexts.get(rule.context)
                    if previous is None or rule.weight > previous.weight:
                        found.contexts[rule.context] = _Context(rule.context, rule.weight, rule.id, rule.implies)
        # "I'd never do it, but I think about it a lot": the denial does not clear the risk.
        for rule, rest in denied:
            if rule.category and rule.category not in found.categories and _BUT_CONTINUES.search(rest):
                found.categories.setdefault(rule.category, _CategoryEvidence()).add(
                    RiskLevel.LOW, 1.0, rule.id + ":denied_but"
                )
        return found

    def _match(self, rule: CrisisRule, sentence: str, resolved: bool = False):
        """("hit", level, "") for the first match that counts, ("denied", none, rest) when
        the only matches were denied, else None. ``resolved``: the message says the risk is
        over and nothing says it is back (crisis_rules.RESOLVED)."""
        if rule.unless is not None and rule.unless.search(sentence):
            return None
        denied = None
        for m in rule.pattern.finditer(sentence):
            start, end = _clause_bounds(sentence, m.start())
            before = sentence[: m.start()]
            if rule.self_only and _about_someone_else(before):
                continue
            if rule.negatable and (
                _is_negated(before[start:]) or (not rule.own_negation and _has_negator(m.group(0)))
            ):
                denied = denied or ("denied", RiskLevel.NONE, sentence[m.end() :])
                continue
            clause = sentence[start:end]
            if rule.past_sensitive and DISTANT_PAST.search(clause) and not PRESENT_AGAIN.search(clause):
                continue
            if rule.past_sensitive and resolved and PAST_TELLING.search(clause):  # history, told as such
                continue
            level = rule.level
            if rule.intent_upgrades and level is RiskLevel.MODERATE:
                lead = " ".join(_WORD.findall(before[start:])[-5:]) + " " + m.group(0)
                if INTENT_WORDS.search(lead) and not FEAR_WORDS.search(lead):
                    level = RiskLevel.HIGH
            # "my dad keeps saying he'd be better off dead": still a crisis (the resources are
            # given), but the risk is another person's, so the helper's reply is the right one
            if rule.category in OTHERS_OWN_RISK and rule.id not in THIRD_PARTY_RULE_IDS and _about_someone_else(before) \
                    and not _USER_IN_MATCH.search(m.group(0)):  # "they'd be better off without me" is the user's
                return "someone_else", level, ""
            return "hit", level, ""
        return denied

    def assess(self, text: str) -> CrisisAssessment:
        """Risk of a single message."""
        return self._decide(self.evidence(text))

    # -- scoring -----------------------------------------------------------------------
    @staticmethod
    def _context_points(found: MessageEvidence, category: str, base_level: RiskLevel) -> tuple[float, list[str]]:
        kinds = set(found.contexts)
        timing_counts = base_level >= RiskLevel.MODERATE or bool(kinds - TIMING_KINDS - {"endurance"})
        points, ids = 0.0, []
        for ctx in found.contexts.values():
            if ctx.kind in TIMING_KINDS and not timing_counts:
                continue
            weight = CONTEXT_WEIGHT_OVERRIDES.get(category, {}).get(ctx.kind, ctx.weight)
            if weight > 0:
                points += weight
                ids.append(ctx.rule_id)
        return points, ids

    def _decide(self, found: MessageEvidence, inherited: dict[str, _CategoryEvidence] | None = None) -> CrisisAssessment:
        categories = dict(found.categories)
        inferred_ids: list[str] = []
        if not categories and inherited:
            categories = inherited
            inferred_ids.append("escalation.context_after_crisis")
        if not categories:
            kinds = set(found.contexts) & INFERENCE_KINDS
            if len(kinds) >= 2:
                implied = [c.implies for c in found.contexts.values() if c.implies]
                cat = implied[0] if implied else "suicide"
                categories = {cat: _CategoryEvidence(0.0, RiskLevel.NONE, [])}
                inferred_ids.append("inferred." + cat)
        if not categories:
            return NO_CRISIS

        levels: dict[str, RiskLevel] = {}
        rule_ids: list[str] = []
        best_points = 0.0
        for cat, ev in categories.items():
            if cat == SELF_HARM:
                level, points, ctx_ids = ev.level, ev.points, []
            else:
                ctx_points, ctx_ids = self._context_points(found, cat, ev.level)
                points = ev.points + ctx_points
                level = max(ev.level, _level_from_points(points))
            if level is RiskLevel.NONE:
                continue
            levels[cat] = level
            best_points = max(best_points, points)
            rule_ids += [r for r in ev.rule_ids + ctx_ids if r not in rule_ids]
        if not levels:
            return NO_CRISIS
        ordered = sorted(levels, key=lambda c: (-levels[c].rank, CATEGORIES.index(c)))
        return CrisisAssessment(
            level=levels[ordered[0]],
            categories=tuple(ordered),
            score=min(1.0, best_points / 4.0),
            matched_rules=tuple(inferred_ids + rule_ids),
        )

    # -- several turns -----------------------------------------------------------------
    def assess_turns(self, user_texts: list[str], window: int = 4) -> CrisisAssessment:
        """Risk of the latest user message given up to ``window - 1`` user turns before it."""
        if not user_texts:
            return NO_CRISIS
        latest = self.evidence(user_texts[-1])
        earlier = [self.assess(t) for t in user_texts[-window:-1]]
        earlier_crisis = [a for a in earlier if a.is_crisis]
        if not earlier_crisis:
            return self._decide(latest)

        current = self._decide(latest)
        if not current.is_crisis and latest.contexts:
            # Danger signs with no topic of their own take the topic of the recent crisis talk.
            top = max(earlier_crisis, key=lambda a: a.level.rank)
            inherited = {
                cat: _CategoryEvidence(1.0 + top.level.rank - 1, top.level, [])
                for cat in top.categories[:1]
            }
            current = self._decide(latest, inherited)
            if current.is_crisis and "endurance" in latest.contexts and current.level < top.level:
                current = _with(current, level=top.level)
        if not current.is_crisis:
            return current
        highest_before = max(a.level for a in earlier_crisis)
        level, extra = current.level, []
        if len(earlier_crisis) >= 2 and level < RiskLevel.HIGH:
            level, extra = RiskLevel.from_rank(level.rank + 1), ["escalation.persistent"]
        if highest_before > level:
            level, extra = highest_before, extra + ["escalation.recent_higher"]
        if level == current.level:
            return current
        return _with(current, level=level, matched_rules=current.matched_rules + tuple(extra))


def _with(a: CrisisAssessment, **changes) -> CrisisAssessment:
    from dataclasses import replace

    return replace(a, **changes)
