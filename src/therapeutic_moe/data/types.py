"""The records the data pipeline passes along: turns, conversations and training examples."""

from __future__ import annotations

from dataclasses import dataclass, field

from therapeutic_moe.data.chat_render import IGNORE_INDEX

ROLES = ("system", "user", "assistant")


@dataclass
class Turn:
    """One speaker turn, already mapped to a chat role."""

    role: str = field(metadata={"help": "'user' or 'assistant' ('system' only inside chat-format input)."})
    content: str = field(metadata={"help": "What was said, speaker label removed, lines of the turn joined."})


@dataclass
class Conversation:
    """One session as loaded from a file, before tokenization."""

    id: str = field(metadata={"help": "The record's 'id' field, else its source; keys the train/val split."})
    turns: list[Turn] = field(metadata={"help": "Alternating user/assistant turns (same-speaker runs merged)."})
    domain: str | None = field(default=None, metadata={"help": "Expert domain label, or None."})
    topic: str | None = field(default=None, metadata={"help": "Free-text topic from the record, if any."})
    source: str = field(default="", metadata={"help": "Where it came from: 'file:line' (JSONL) or 'file[index]'."})
    system: str | None = field(
        default=None, metadata={"help": "A system message given in the record; overrides the configured prompt."}
    )

    def normalized_text(self) -> str:
        """Text used for exact-duplicate detection: roles kept, case and whitespace ignored."""
        return "\n".join(f"{t.role}:{' '.join(t.content.lower().split())}" for t in self.turns)


@dataclass
class Example:
    """One training window: token ids and labels (-100 where no loss is taken)."""

    input_ids: list[int] = field(metadata={"help": "Token ids of the rendered chat window."})
    labels: list[int] = field(metadata={"help": "Target id on assistant tokens (incl. end-of-turn), -100 elsewhere."})
    domain: int = field(default=-1, metadata={"help": "Index into expert_domains, -1 when unlabelled."})
    conv_id: str = field(default="", metadata={"help": "Id of the conversation the window was cut from."})
    window: int = field(default=0, metadata={"help": "Window number within the conversation (0-based)."})

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def num_trained(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)
