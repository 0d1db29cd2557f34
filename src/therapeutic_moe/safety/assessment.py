"""What the crisis detector returns: a risk level, the categories it saw, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

CATEGORIES = ("suicide", "self_harm", "harm_to_others", "abuse_in_progress")
"""Crisis categories, in the order they are reported when levels tie."""


class RiskLevel(str, Enum):
    """Risk of a message, loosely following the Columbia (C-SSRS) screener's steps.

    none: nothing found. low: passive death wish or hopelessness about living.
    moderate: active thoughts without plan/intent, ongoing self-harm or abuse.
    high: plan, means, intent, preparation, an attempt or danger happening now.
    """

    NONE = "none"
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    # str's own comparison would order the names alphabetically ("high" < "low").
    def __lt__(self, other: object) -> bool:
        return self.rank < RiskLevel(other).rank

    def __le__(self, other: object) -> bool:
        return self.rank <= RiskLevel(other).rank

    def __gt__(self, other: object) -> bool:
        return self.rank > RiskLevel(other).rank

    def __ge__(self, other: object) -> bool:
        return self.rank >= RiskLevel(other).rank

    __hash__ = str.__hash__

    @classmethod
    def from_rank(cls, rank: int) -> "RiskLevel":
        return _BY_RANK[max(0, min(3, rank))]


_RANKS = {RiskLevel.NONE: 0, RiskLevel.LOW: 1, RiskLevel.MODERATE: 2, RiskLevel.HIGH: 3}
_BY_RANK = {rank: level for level, rank in _RANKS.items()}


@dataclass(frozen=True)
class CrisisAssessment:
    """Result of screening one user message (with its recent history)."""

    level: RiskLevel = field(metadata={"help": "Highest risk level over all categories."})
    categories: tuple[str, ...] = field(
        default=(), metadata={"help": "Categories found, most severe first; empty when level is none."}
    )
    score: float = field(
        default=0.0, metadata={"help": "Evidence strength in [0, 1]: summed rule weights / 4, capped."}
    )
    matched_rules: tuple[str, ...] = field(
        default=(), metadata={"help": "Ids of the rules that decided the result (see crisis_rules.py)."}
    )

    @property
    def is_crisis(self) -> bool:
        return self.level is not RiskLevel.NONE

    def to_dict(self) -> dict:
        return {
            "level": self.level.value,
            "categories": list(self.categories),
            "score": round(self.score, 4),
            "matched_rules": list(self.matched_rules),
        }


NO_CRISIS = CrisisAssessment(level=RiskLevel.NONE)
