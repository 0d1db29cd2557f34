"""Held-out client questions from any dataset file the project's loaders read.

A question is the conversation up to and including its first client turn (with any
therapist turns before it as history); the therapist turn after it is kept as the
reference answer (for reading, never sent to a judge as "the right answer"). Records with
the same question text (counsel-chat keeps several therapists' answers per question) give
one question.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Question:
    """One held-out prompt."""

    id: str = field(metadata={"help": "Stable id: a hash of the prompt text (same question, same id in any file)."})
    messages: list[dict] = field(metadata={"help": "Chat messages sent to the model, ending with the client's turn."})
    topic: str | None = field(default=None, metadata={"help": "The record's topic, if any."})
    source: str = field(default="", metadata={"help": "Where the record came from (file[index] or file:line)."})
    reference: str | None = field(default=None, metadata={"help": "The therapist's answer in the data, if any."})

    @property
    def text(self) -> str:
        """The client's last message: what the reply answers."""
        return self.messages[-1]["content"]

    def to_dict(self) -> dict:
        return {"id": self.id, "messages": self.messages, "topic": self.topic, "source": self.source}


def question_id(messages: list[dict]) -> str:
    joined = "\n".join(f"{m['role']}:{' '.join(m['content'].split())}" for m in messages)
    return "q" + hashlib.sha1(joined.encode("utf-8")).hexdigest()[:10]


def _first_question(conv) -> Question | None:
    turns = [t for t in conv.turns if t.role in ("user", "assistant")]
    first_user = next((i for i, t in enumerate(turns) if t.role == "user"), None)
    if first_user is None:
        return None
    messages = [{"role": t.role, "content": t.content} for t in turns[:first_user + 1]]
    after = turns[first_user + 1] if first_user + 1 < len(turns) else None
    reference = after.content if after is not None and after.role == "assistant" else None
    return Question(question_id(messages), messages, conv.topic, conv.source, reference)


def spread(items: list, count: int) -> list:
    """``count`` items evenly spaced over the list (all when count is 0 or too large), so a
    topic-sorted file gives questions from across its topics rather than from the first one."""
    if count <= 0 or count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def load_questions(path: str | Path, max_questions: int = 0, speakers=None, scrubber=None) -> list[Question]:
    """Unique questions of a dataset, at most ``max_questions`` of them (0 = all).

    ``scrubber``: the PII scrubber training used; the model then sees questions as it saw its
    training data, and no e-mail address or phone number reaches a judge endpoint.
    """
    from therapeutic_moe.data.formats import load_conversations
    from therapeutic_moe.errors import DataError

    unique: dict[str, Question] = {}
    for conv in load_conversations(path, speakers):
        if scrubber is not None:
            conv = scrubber.scrub_conversation(conv)
        question = _first_question(conv)
        if question is not None and question.text.strip() and question.id not in unique:
            unique[question.id] = question
    if not unique:
        raise DataError(f"{path}: no conversation has a client turn to answer. Fix: check the speaker labels "
                        f"(Client:/Patient:/User:) or use chat 'messages' with role 'user'")
    return spread(list(unique.values()), max_questions)
