"""Safety events and the counters behind /metrics.

Every action of the safety layer (a crisis found, a crisis reply given, a generated reply
blocked) becomes a ``SafetyEvent``. Events carry rule ids and levels, never the user's or
the model's text unless ``log_raw_text`` is on: the counters and ids are enough to monitor
the layer without keeping what people wrote.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from therapeutic_moe.safety.assessment import CATEGORIES, RiskLevel

log = logging.getLogger(__name__)

EVENT_KINDS = ("crisis_detected", "crisis_reply", "output_blocked", "stream_blocked")


@dataclass(frozen=True)
class SafetyEvent:
    """One action of the safety layer."""

    kind: str = field(metadata={"help": "One of EVENT_KINDS."})
    level: RiskLevel = field(metadata={"help": "Risk level of the message, or of the blocked content (method details are high)."})
    categories: tuple[str, ...] = field(metadata={"help": "Crisis categories involved, most severe first."})
    rule_ids: tuple[str, ...] = field(metadata={"help": "Ids of the rules that fired."})
    timestamp: float = field(metadata={"help": "Seconds since the epoch (time.time())."})
    text: str | None = field(default=None, metadata={"help": "Raw text, only when log_raw_text is true."})

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "level": RiskLevel(self.level).value,
            "categories": list(self.categories),
            "rule_ids": list(self.rule_ids),
            "timestamp": self.timestamp,
            **({"text": self.text} if self.text is not None else {}),
        }


def empty_counters() -> dict[str, int]:
    """Every counter the layer keeps, at zero, so /metrics always shows the same keys."""
    keys = [
        "user_messages_checked",
        "outputs_screened",
        "streams_screened",
        *EVENT_KINDS,
        *(f"crisis_level_{lvl.value}" for lvl in RiskLevel if lvl is not RiskLevel.NONE),
        *(f"crisis_category_{cat}" for cat in CATEGORIES),
    ]
    return {k: 0 for k in keys}


class EventRecorder:
    """Counts events and hands them to an optional sink; a failing sink never breaks a reply."""

    def __init__(self, sink: Callable[[SafetyEvent], None] | None, log_raw_text: bool):
        self.sink = sink
        self.log_raw_text = log_raw_text
        self.counters = empty_counters()
        self._lock = threading.Lock()
        self._sink_failed_logged = False

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] = self.counters.get(key, 0) + n

    def emit(self, kind: str, level: RiskLevel, categories, rule_ids, text: str | None = None) -> SafetyEvent:
        event = SafetyEvent(
            kind=kind,
            level=RiskLevel(level),
            categories=tuple(categories),
            rule_ids=tuple(rule_ids),
            timestamp=time.time(),
            text=text if self.log_raw_text else None,
        )
        with self._lock:
            self.counters[kind] = self.counters.get(kind, 0) + 1
            if kind == "crisis_detected":
                self.counters[f"crisis_level_{event.level.value}"] += 1
                for cat in event.categories:
                    self.counters[f"crisis_category_{cat}"] = self.counters.get(f"crisis_category_{cat}", 0) + 1
        if self.sink is not None:
            try:
                self.sink(event)
            except Exception as exc:  # the person in crisis must still get the reply
                if not self._sink_failed_logged:
                    log.warning("safety event sink failed (%s: %s); events still counted", type(exc).__name__, exc)
                    self._sink_failed_logged = True
        return event
