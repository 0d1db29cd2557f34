"""Default crisis policy text, used when a config object leaves a field out.

The text here is configuration, not logic: deployments replace it through
``safety_config.json`` (``crisis_reply_template``, ``crisis_resources``).
"""

from __future__ import annotations

from typing import Any


class SafetyDefaults:
    """Defaults for every safety field the safety layer reads."""

    CRISIS_DETECTION: bool = True
    SEMANTIC_CRISIS_DETECTION: bool = True
    SEMANTIC_CRISIS_THRESHOLD: float | None = None  # None: the threshold stored with the model
    SCREEN_GENERATED_TEXT: bool = True
    LOG_RAW_TEXT: bool = False

    CRISIS_RESOURCES: tuple[str, ...] = (
        "US: call or text 988 (988 Suicide & Crisis Lifeline), available 24/7.",
        "If you are in immediate danger, call your local emergency number "
        "(911 in the US, 112 in the EU, 999 in the UK).",
    )

    # Safe-messaging practice: acknowledge, no judgement, no method talk, point to help now,
    # keep the door open. "{resources}" becomes one "- resource" line per configured resource.
    CRISIS_REPLY_TEMPLATE: str = (
        "I'm really glad you told me, and I'm so sorry you're going through this. "
        "Your safety matters most right now, and you don't have to face this alone. "
        "Please reach out for support now:\n"
        "{resources}\n"
        "If you can, tell someone you trust how you're feeling and stay close to them. "
        "I'm here and I'll keep listening."
    )

    # For a person worried about someone else at risk ("my friend says she'll kill herself
    # tonight"): they are the helper, so the reply tells them how to help, not how to stay safe.
    # Asking directly about suicide is safe-messaging practice; it does not plant the idea.
    THIRD_PARTY_REPLY_TEMPLATE: str = (
        "It sounds like you're worried that someone you care about may be in danger, and it's good "
        "that you're looking out for them. If they might act on it soon or are already hurt, call "
        "emergency services for them now and, if it's safe for you, stay with them until help arrives. "
        "It's okay to ask them directly whether they're thinking about suicide: asking does not put the "
        "idea in their head, and it shows you take them seriously. Listen without judging, tell them you "
        "care, and help them reach support. You can call a crisis line together or on their behalf:\n"
        "{resources}\n"
        "If you can, help keep things they could use to hurt themselves out of reach, and bring in another "
        "person you both trust so you are not carrying this alone. Supporting someone in crisis is hard; "
        "these lines are there for you too."
    )

    @classmethod
    def crisis_resources(cls) -> list[str]:
        return list(cls.CRISIS_RESOURCES)

    @classmethod
    def get(cls, cfg: Any, name: str) -> Any:
        """``cfg.<name>``, or the default when cfg is None or lacks the field (or holds None)."""
        value = getattr(cfg, name, None) if cfg is not None else None
        if value is None:
            value = getattr(cls, name.upper())
            if isinstance(value, tuple):
                value = list(value)
        return value
