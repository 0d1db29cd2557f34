"""Turn a "Therapist: ...\\nClient: ..." transcript into chat turns.

A line that starts with a configured speaker label opens a turn; a line without one
continues the previous turn; consecutive turns of one role merge. A label-like prefix that
is not configured ("Mother: ...") is an error rather than a silent merge, because folding a
third speaker into the client's words would teach the model the wrong dialogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from therapeutic_moe.data.types import Turn
from therapeutic_moe.errors import DataError

DEFAULT_ASSISTANT_SPEAKERS = ("Therapist", "Counselor", "Counsellor", "Assistant")
DEFAULT_USER_SPEAKERS = ("Client", "Patient", "User")

# Up to three words then a colon followed by a space or the line end; "10:30" and
# "https://" do not match.
_LABEL = re.compile(r"^([A-Za-z][\w'.-]*(?: [A-Za-z0-9][\w'.-]*){0,2})[ \t]*:(?=[ \t]|$)[ \t]*")
# Prose that often opens a line with "Word:" and is not a speaker.
_PROSE_PREFIXES = frozenset(
    "note notes nb edit update ps p.s step tip tips example examples e.g i.e warning important summary "
    "homework reminder source sources link links email phone website address date time subject re hint "
    "bonus option goal goals plan question answer q a reference references disclaimer fyi tldr rule "
    "exercise day week morning evening result results reason reasons problem solution quote".split()
)


@dataclass(frozen=True)
class Speakers:
    """Which transcript labels mean which chat role (matched case-insensitively)."""

    assistant: tuple[str, ...] = field(
        default=DEFAULT_ASSISTANT_SPEAKERS, metadata={"help": "Labels of the side the model learns to speak."}
    )
    user: tuple[str, ...] = field(default=DEFAULT_USER_SPEAKERS, metadata={"help": "Labels of the other side."})

    def __post_init__(self) -> None:
        object.__setattr__(self, "assistant", tuple(self.assistant))
        object.__setattr__(self, "user", tuple(self.user))
        clash = {s.casefold() for s in self.assistant} & {s.casefold() for s in self.user}
        if clash:
            raise DataError(f"speaker label(s) {sorted(clash)} are listed in both assistant_speakers and "
                            f"user_speakers; keep each label in one list")

    def role_of(self, label: str) -> str | None:
        folded = label.casefold()
        if folded in {s.casefold() for s in self.assistant}:
            return "assistant"
        if folded in {s.casefold() for s in self.user}:
            return "user"
        return None


def merge_turns(turns: list[Turn]) -> list[Turn]:
    """Drop empty turns and join runs of one role, so roles alternate."""
    merged: list[Turn] = []
    for turn in turns:
        content = turn.content.strip()
        if not content:
            continue
        if merged and merged[-1].role == turn.role:
            merged[-1] = Turn(turn.role, merged[-1].content + "\n" + content)
        else:
            merged.append(Turn(turn.role, content))
    return merged


def _looks_like_speaker(label: str) -> bool:
    return label[0].isupper() and label.split()[0].lower().rstrip(".") not in _PROSE_PREFIXES


def parse_transcript(text: str, speakers: Speakers, where: str) -> list[Turn]:
    """Parse a labelled transcript; ``where`` names the record in error messages."""
    turns: list[Turn] = []
    unknown: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _LABEL.match(line)
        if match:
            label = match.group(1)
            role = speakers.role_of(label)
            if role:
                turns.append(Turn(role, line[match.end():]))
                continue
            if _looks_like_speaker(label):
                unknown.setdefault(label, lineno)
        if turns:
            turns[-1] = Turn(turns[-1].role, turns[-1].content + "\n" + line)
        elif line.strip() and not unknown:
            raise DataError(
                f"{where}: line {lineno} of the transcript comes before any speaker label. Fix: start each "
                f"turn with a label such as '{speakers.assistant[0]}: ' or '{speakers.user[0]}: ' "
                f"(configured: assistant_speakers={list(speakers.assistant)}, user_speakers={list(speakers.user)})"
            )
    if unknown:
        found = ", ".join(f"'{label}' (line {n})" for label, n in unknown.items())
        raise DataError(
            f"{where}: unknown speaker label(s) {found}. Fix: add them to assistant_speakers or user_speakers "
            f"in the training config (now assistant_speakers={list(speakers.assistant)}, "
            f"user_speakers={list(speakers.user)}), or indent such a line if it is part of the previous turn"
        )
    merged = merge_turns(turns)
    if not merged:
        raise DataError(f"{where}: empty conversation (no speaker turn with text). Fix: remove the record or "
                        f"give it 'Therapist: ...' / 'Client: ...' lines")
    if not any(t.role == "assistant" for t in merged):
        raise DataError(
            f"{where}: no therapist turn, so there is nothing to learn from this conversation. Fix: label the "
            f"therapist's lines with one of assistant_speakers={list(speakers.assistant)} (or add its label "
            f"to assistant_speakers in the training config)"
        )
    return merged
