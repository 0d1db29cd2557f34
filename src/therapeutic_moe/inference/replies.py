"""What a reply is: the finished ``Reply``, the streamed ``ReplyChunk`` and token ``Usage``.

Its own file because both the assistant (which builds replies) and the safety bridge (which
releases screened chunks) need these types, and neither should import the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from therapeutic_moe.inference.routing import TokenRouting, expert_shares


@dataclass
class Usage:
    prompt_tokens: int = field(default=0, metadata={"help": "Tokens in the (trimmed) prompt."})
    completion_tokens: int = field(default=0, metadata={"help": "Tokens generated (stop token included)."})

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens}


@dataclass
class Reply:
    """A finished reply."""

    text: str = field(metadata={"help": "What the assistant says (crisis reply or screened generated text)."})
    routing: list[TokenRouting] = field(default_factory=list,
                                        metadata={"help": "Per generated token: text piece and its expert."})
    crisis: Any = field(default=None, metadata={"help": "The CrisisAssessment when the crisis reply was used."})
    usage: Usage = field(default_factory=Usage, metadata={"help": "Prompt and completion token counts."})
    finish_reason: str = field(default="stop", metadata={
        "help": "stop (end of turn), length (token limit), crisis (crisis reply, nothing generated), "
                "content_filter (output screen withheld text), cancelled (caller stopped it)."})
    dropped_messages: int = field(default=0, metadata={"help": "Oldest messages left out to fit the context."})
    screen_reasons: list[str] = field(default_factory=list, metadata={"help": "Why the output screen changed text."})
    seconds: float = field(default=0.0, metadata={"help": "Wall time of the reply."})

    def expert_shares(self, domains: list[str]) -> dict[str, float]:
        return expert_shares(self.routing, domains)


@dataclass
class ReplyChunk:
    """One piece of a streamed reply; the last chunk carries the finished ``reply``."""

    text: str = ""
    routing: list[TokenRouting] = field(default_factory=list)
    reply: Reply | None = None
