"""The seam between replies and the safety layer (``therapeutic_moe.safety``).

Chat, the Python API and the server all talk to the safety layer only through this file:
crisis check before generation, crisis reply, output screening for whole and streamed
replies, and the counters for /metrics. Streamed text is screened by the safety layer's
stream screen, which may hold text back or change it; ``ScreenedStream`` keeps the routing
pieces aligned with the text actually released, so colours never carry withheld text.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from therapeutic_moe.errors import ConfigError
from therapeutic_moe.inference.replies import ReplyChunk
from therapeutic_moe.inference.routing import TokenRouting

# Marks an assessment whose person at risk is someone else: the reply is for the helper.
HELPER_REPLY_ID = "reply.someone_else_at_risk"


class SafetyBridge:
    def __init__(self, layer, third_party_reply: str | None = None):
        self.layer = layer
        # The reply for a person worried about someone else at risk (None: the layer's one reply).
        self.third_party_reply = third_party_reply

    @classmethod
    def create(cls, safety_cfg=None, event_sink=None) -> "SafetyBridge":
        try:
            from therapeutic_moe.safety import SafetyLayer
            from therapeutic_moe.safety.defaults import SafetyDefaults
        except ImportError as exc:
            raise ConfigError(
                f"the safety layer is not available in this installation ({exc}); refusing to serve replies "
                "without crisis detection") from None
        template = SafetyDefaults.get(safety_cfg, "third_party_reply_template")
        if "{resources}" not in template:
            raise ConfigError("safety_config.json: third_party_reply_template must contain '{resources}'")
        return cls(SafetyLayer(safety_cfg, event_sink=event_sink), third_party_reply=template)

    def check(self, messages: list[dict]):
        """The CrisisAssessment when the conversation needs the crisis reply, else None. When
        the person at risk is someone else, its matched_rules end with HELPER_REPLY_ID, so the
        reply is chosen from the assessment alone (no state shared between requests)."""
        assessment = self.layer.check_user_message(messages)
        if assessment is None or not assessment.is_crisis:
            return None
        user_turns = [m for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
        latest = _text_of(user_turns[-1].get("content")) if user_turns else ""
        if self.third_party_reply is not None and about_someone_else(assessment, latest):
            assessment = replace(assessment, matched_rules=tuple(assessment.matched_rules) + (HELPER_REPLY_ID,))
        return assessment

    def crisis_reply(self, assessment) -> str:
        """The crisis reply; the helper's reply when the person at risk is someone else."""
        if self.third_party_reply is not None and HELPER_REPLY_ID in (getattr(assessment, "matched_rules", ()) or ()):
            return self.layer.crisis_reply(assessment, template=self.third_party_reply)
        return self.layer.crisis_reply(assessment)

    def stream_screen(self) -> "ScreenedStream":
        return ScreenedStream(self.layer.stream_screen())

    @property
    def counters(self) -> dict:
        counters = getattr(self.layer, "counters", None) or {}
        return dict(counters) if not hasattr(counters, "to_dict") else counters.to_dict()


def about_someone_else(assessment, latest_user_text: str) -> bool:
    """True when the crisis is another person's and the user is the one trying to help.

    The rules know whose words they read; the semantic detector does not. So: no rule found
    the user's own risk (only the third-party rule, rules that read another person's words
    such as "my dad keeps saying he'd be better off dead", context or the semantic detector
    fired), and one of those rules fired or the latest message puts someone else's risk in
    words ("my friend said she wants to die")."""
    from therapeutic_moe.safety.crisis_detector import SOMEONE_ELSE_SUFFIX
    from therapeutic_moe.safety.crisis_rules import SOMEONE_ELSE_AT_RISK, THIRD_PARTY_RULE_IDS
    from therapeutic_moe.safety.normalize import normalize

    matched = tuple(getattr(assessment, "matched_rules", ()) or ())
    reported = [r for r in matched if r.endswith(SOMEONE_ELSE_SUFFIX)]  # a rule read another person's risk
    rule_ids = [r.split(":")[0] for r in matched if r not in reported]
    own = [r for r in rule_ids if not r.startswith(("context.", "semantic", "reply.")) and r not in THIRD_PARTY_RULE_IDS]
    if own:
        return False
    return (bool(reported) or bool(THIRD_PARTY_RULE_IDS.intersection(rule_ids))
            or bool(SOMEONE_ELSE_AT_RISK.search(normalize(latest_user_text))))


def _text_of(content) -> str:
    if isinstance(content, list):  # OpenAI-style content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


class ScreenedStream:
    """Feeds generated pieces through a stream screen and yields what it releases as chunks.

    The screen's contract: ``feed(text) -> released text``, ``finish() -> released text``,
    ``blocked`` (bool) and ``reasons``; released text is normally the fed text, possibly later,
    but may differ (redacted or replaced).
    """

    def __init__(self, inner):
        self.inner = inner
        self._pending: deque[TokenRouting] = deque()
        self.routing: list[TokenRouting] = []  # pieces as shown; their texts join to ``text``
        self.text = ""

    @property
    def blocked(self) -> bool:
        return bool(getattr(self.inner, "blocked", False))

    @property
    def reasons(self) -> list[str]:
        return list(getattr(self.inner, "reasons", []) or [])

    def feed(self, piece: str, entry: TokenRouting | None):
        if entry is not None:
            self._pending.append(replace(entry))
        elif piece and self._pending:
            self._pending[-1].text += piece  # a flushed tail belongs to the last token
        return self._release(lambda: self.inner.feed(piece) if piece else "")

    def finish(self):
        return self._release(self.inner.finish)

    def _release(self, step):
        was_blocked = self.blocked
        released = step()
        if not released:
            return []
        if self.blocked and not was_blocked:
            # The screen cut the reply: what it releases now is its safe reply, which no
            # expert wrote, and the withheld pieces are never shown.
            self._pending.clear()
            self.text += released
            shown = [TokenRouting(text=released, expert=-1, domain="", weights=[], layer_experts=[])]
            self.routing.extend(shown)
            return [ReplyChunk(text=released, routing=shown)]
        self.text += released
        shown: list[TokenRouting] = []
        rest = released
        while rest and self._pending:
            head = self._pending[0]
            if head.text and rest.startswith(head.text):
                shown.append(self._pending.popleft())
                rest = rest[len(head.text):]
            elif head.text.startswith(rest):
                shown.append(replace(head, text=rest))
                head.text = head.text[len(rest):]
                rest = ""
            elif not head.text:
                self._pending.popleft()
            else:
                # The screen changed the text: colour it by the first withheld token and treat
                # the withheld pieces as spent.
                shown.append(replace(head, text=rest))
                self._pending.clear()
                rest = ""
        if rest:  # text no generated token stands for (expert -1), e.g. a replacement notice
            shown.append(TokenRouting(text=rest, expert=-1, domain="", weights=[], layer_experts=[]))
        shown = [r for r in shown if r.text]
        self.routing.extend(shown)
        return [ReplyChunk(text=released, routing=shown)]
