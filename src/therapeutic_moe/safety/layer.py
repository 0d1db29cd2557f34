"""The safety layer a chat front end calls around generation.

    layer = SafetyLayer(safety_cfg, event_sink=print)
    assessment = layer.check_user_message(messages)
    if assessment.is_crisis:
        return layer.crisis_reply(assessment)        # no generation at all
    reply = generate(messages)
    return layer.screen_output(reply).text           # or layer.stream_screen() when streaming

``safety_cfg`` is any object with the attributes ``crisis_detection``,
``semantic_crisis_detection``, ``crisis_reply_template``, ``crisis_resources``,
``screen_generated_text`` and ``log_raw_text`` (the ``SafetyConfig`` dataclass, or a
``SimpleNamespace``); a missing or None attribute takes its value from ``SafetyDefaults``.

Two detectors read every user message: the rules (crisis_detector.py, precise, explainable)
and the semantic detector (semantic.py, a tuned sentence encoder that generalises to
wording the rules never saw). The message is a crisis when either says so. When the encoder
package is not installed the layer runs on the rules alone, logs a warning once at start-up
and says so in ``detector_status`` (shown by the server's /health).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from therapeutic_moe.errors import ConfigError
from therapeutic_moe.safety.assessment import CATEGORIES, NO_CRISIS, CrisisAssessment, RiskLevel
from therapeutic_moe.safety.crisis_detector import CrisisDetector
from therapeutic_moe.safety.defaults import SafetyDefaults
from therapeutic_moe.safety.events import EventRecorder, SafetyEvent
from therapeutic_moe.safety.normalize import normalize
from therapeutic_moe.safety.output_rules import OUTPUT_RULES, SAFETY_ADVICE
from therapeutic_moe.safety.semantic import SemanticCrisisDetector, shared_semantic_detector

if TYPE_CHECKING:
    from therapeutic_moe.safety.stream_screen import StreamScreen

RESOURCES_PLACEHOLDER = "{resources}"
# Categories where someone may be hurt by another person right now: the emergency line
# goes first because a helpline cannot send help to the door.
EMERGENCY_FIRST_CATEGORIES = frozenset({"harm_to_others", "abuse_in_progress"})
# How a resource is recognised as the emergency line: it says "emergency" or gives a
# common emergency number. Keep that word or number in the configured text.
EMERGENCY_RESOURCE = re.compile(r"emergenc|\b(?:911|112|999|000|110|119)\b", re.IGNORECASE)
USER_TURNS_WINDOW = 4  # the latest user message and the three before it
log = logging.getLogger(__name__)
_WARNED_RULES_ONLY = False  # the rules-only warning is logged once per process, not per layer


@dataclass(frozen=True)
class ScreenResult:
    """Outcome of screening one generated reply."""

    allowed: bool = field(metadata={"help": "False when the reply held method details and was replaced."})
    text: str = field(metadata={"help": "The reply to show: the original when allowed, else the safe reply."})
    reasons: tuple[str, ...] = field(default=(), metadata={"help": "Ids of the output rules that fired."})


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI-style content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


class SafetyLayer:
    """Crisis detection before generation, crisis replies, and screening of generated text."""

    def __init__(
        self,
        safety_cfg: Any = None,
        event_sink: Callable[[SafetyEvent], None] | None = None,
        detector: CrisisDetector | None = None,
        semantic: SemanticCrisisDetector | None = None,
    ):
        get = SafetyDefaults.get
        self.crisis_detection = bool(get(safety_cfg, "crisis_detection"))
        self.screen_generated_text = bool(get(safety_cfg, "screen_generated_text"))
        self.log_raw_text = bool(get(safety_cfg, "log_raw_text"))
        self.reply_template = get(safety_cfg, "crisis_reply_template")
        self.resources = list(get(safety_cfg, "crisis_resources"))
        self.semantic_threshold = get(safety_cfg, "semantic_crisis_threshold")
        self._validate()
        self.detector = detector or CrisisDetector()
        self.semantic, self.semantic_unavailable = self._semantic_detector(
            semantic, bool(get(safety_cfg, "semantic_crisis_detection")))
        self._events = EventRecorder(event_sink, self.log_raw_text)

    @staticmethod
    def _semantic_detector(given, wanted: bool) -> tuple[SemanticCrisisDetector | None, str | None]:
        global _WARNED_RULES_ONLY
        if given is not None:
            return given, None
        if not wanted:
            return None, "semantic_crisis_detection is false in safety_config.json"
        detector, why = shared_semantic_detector()
        if detector is None and not _WARNED_RULES_ONLY:
            log.warning("crisis detection runs on the rules only: %s", why)
            _WARNED_RULES_ONLY = True
        return detector, why

    @property
    def detector_status(self) -> dict:
        """Which crisis detectors run (for /health and the model card)."""
        return {"crisis_detection": self.crisis_detection, "rules": True, "semantic": self.semantic is not None,
                "mode": "rules+semantic" if self.semantic is not None else "rules only",
                "semantic_unavailable": self.semantic_unavailable,
                "semantic_engine": self.semantic.encoder.engine if self.semantic is not None else None,
                "semantic_threshold": None if self.semantic is None else (
                    self.semantic.model.threshold if self.semantic_threshold is None else self.semantic_threshold)}

    def _validate(self) -> None:
        problems = []
        if not isinstance(self.reply_template, str) or RESOURCES_PLACEHOLDER not in self.reply_template:
            problems.append(
                f"crisis_reply_template must be text containing {RESOURCES_PLACEHOLDER!r} where the resources go"
            )
        t = self.semantic_threshold
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 < t < 1.0):
            problems.append(f"semantic_crisis_threshold must be a probability between 0 and 1 (exclusive) or null, got {t!r}")
        if not self.resources:
            problems.append("crisis_resources must list at least one resource (a crisis reply without one is unsafe)")
        for i, r in enumerate(self.resources):
            if not isinstance(r, str) or not r.strip():
                problems.append(f"crisis_resources[{i}] must be non-empty text, got {r!r}")
        if problems:
            raise ConfigError("safety_config.json: " + "; ".join(problems))

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot of every counter (stable keys, for /metrics)."""
        with self._events._lock:
            return dict(self._events.counters)

    # -- before generation ---------------------------------------------------------------
    def check_user_message(self, messages: list[dict]) -> CrisisAssessment:
        """Assess the latest user message, with escalation over the last few user turns."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        user_texts = [_message_text(m.get("content")) for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
        if not user_texts or not self.crisis_detection:
            return NO_CRISIS
        self._events.count("user_messages_checked")
        window = user_texts[-USER_TURNS_WINDOW:]
        assessment = self.detector.assess_turns(window, window=USER_TURNS_WINDOW)
        if self.semantic is not None:
            assessment = combine(assessment, self.semantic.assess_turns(window, self.semantic_threshold))
        if assessment.is_crisis:
            self._events.emit(
                "crisis_detected", assessment.level, assessment.categories, assessment.matched_rules, user_texts[-1]
            )
        return assessment

    def crisis_reply(self, assessment: CrisisAssessment | None = None, template: str | None = None) -> str:
        """The configured reply with the resources filled in (emergency line first when
        someone is being hurt or may hurt someone). ``template``: another reply with
        ``{resources}`` (the one for a person worried about someone else), emergency line first."""
        categories = assessment.categories if assessment is not None else ()
        text = self._render_reply(categories, template)
        level = assessment.level if assessment is not None else RiskLevel.NONE
        rules = assessment.matched_rules if assessment is not None else ()
        self._events.emit("crisis_reply", level, categories, rules, text)
        return text

    def _render_reply(self, categories, template: str | None = None) -> str:
        resources = list(self.resources)
        if template is not None or EMERGENCY_FIRST_CATEGORIES.intersection(categories):
            resources.sort(key=lambda r: 0 if EMERGENCY_RESOURCE.search(r) else 1)  # stable: keeps config order otherwise
        block = "\n".join(f"- {r}" for r in resources)
        return (template or self.reply_template).replace(RESOURCES_PLACEHOLDER, block)

    # -- after generation ----------------------------------------------------------------
    def method_details(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(rule ids, categories) of the method details in text; empty when there are none."""
        normalized = normalize(text)
        ids, cats = [], []
        for rule in OUTPUT_RULES:
            m = rule.pattern.search(normalized)
            if m is None:
                continue
            if rule.excused_by_safety_advice and SAFETY_ADVICE.search(normalized):
                continue
            ids.append(rule.id)
            if rule.category not in cats:
                cats.append(rule.category)
        cats.sort(key=CATEGORIES.index)
        return tuple(ids), tuple(cats)

    def safe_reply_for_blocked(self, categories) -> str:
        return self._render_reply(categories)

    def screen_output(self, text: str) -> ScreenResult:
        """Replace a generated reply holding method details with the safe reply."""
        if not self.screen_generated_text:
            return ScreenResult(True, text, ())
        self._events.count("outputs_screened")
        ids, cats = self.method_details(text)
        if not ids:
            return ScreenResult(True, text, ())
        self._events.emit("output_blocked", RiskLevel.HIGH, cats, ids, text)
        return ScreenResult(False, self.safe_reply_for_blocked(cats), ids)

    def stream_screen(self, holdback_chars: int | None = None) -> "StreamScreen":
        from therapeutic_moe.safety.stream_screen import StreamScreen

        return StreamScreen(self, holdback_chars=holdback_chars)


def combine(rules: CrisisAssessment, semantic: CrisisAssessment) -> CrisisAssessment:
    """A crisis when either detector says so; the rules' level and categories lead, the
    semantic detector can raise the level and add its category."""
    if not semantic.is_crisis:
        return rules
    if not rules.is_crisis:
        return semantic
    categories = rules.categories + tuple(c for c in semantic.categories if c not in rules.categories)
    return CrisisAssessment(level=max(rules.level, semantic.level), categories=categories,
                            score=max(rules.score, semantic.score),
                            matched_rules=rules.matched_rules + semantic.matched_rules)
