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
