"""Crisis safety: detect crisis messages before generation, answer them safely, and keep
method details out of generated replies (whole or streamed).

Rule-based and English only; a safety net for a conversation assistant, not a clinical
risk assessment. See docs/safety.md.
"""

from therapeutic_moe.safety.assessment import CATEGORIES, CrisisAssessment, RiskLevel
from therapeutic_moe.safety.crisis_detector import CrisisDetector
from therapeutic_moe.safety.defaults import SafetyDefaults
from therapeutic_moe.safety.events import EVENT_KINDS, SafetyEvent
from therapeutic_moe.safety.layer import SafetyLayer, ScreenResult
from therapeutic_moe.safety.stream_screen import StreamScreen

__all__ = [
    "CATEGORIES",
    "CrisisAssessment",
    "CrisisDetector",
    "EVENT_KINDS",
    "RiskLevel",
    "SafetyDefaults",
    "SafetyEvent",
    "SafetyLayer",
    "ScreenResult",
    "StreamScreen",
]
