"""Real client text beside the project (``../shared/data``, when present): AnnoMI client turns
and counsel-chat questions, for the crisis detector's false-alarm audit, and one half of the
AnnoMI sessions as in-domain negatives for its training.

AnnoMI sessions are split by transcript id: even ids may train the detector's head, odd ids
are only ever audited, so the audit reads sessions the head has not seen. Counsel-chat
questions are never trained on (many are about self-harm or suicide: they are no negatives).
Nothing read here is stored in the project.
"""

from __future__ import annotations

import json
from pathlib import Path

from therapeutic_moe.safety.layer import USER_TURNS_WINDOW

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def annomi_sessions(data_dir: Path = SHARED_DATA) -> list[tuple[int, list[str]]]:
    """(transcript id, client turns in order) of every AnnoMI session found."""
    sessions = []
    for path in sorted(Path(data_dir).glob("annomi_*.json")):
        for conv in json.loads(path.read_text(encoding="utf-8"))["conversations"]:
            turns = [ln.split(":", 1)[1].strip() for ln in conv["text"].split("\n") if ln.startswith("Client:")]
            sessions.append((int(conv["transcript_id"]), [t for t in turns if t]))
    return sessions


def trains_the_head(transcript_id: int) -> bool:
    """Even transcript ids may train the detector; odd ones are audit only."""
    return transcript_id % 2 == 0


def client_windows(turns: list[str]) -> list[list[str]]:
    """What the layer reads at each client turn: the turn with the client turns before it."""
    return [turns[: k + 1][-USER_TURNS_WINDOW:] for k in range(len(turns))]


def counselchat_questions(data_dir: Path = SHARED_DATA) -> list[str]:
    """The client's question of every counsel-chat thread, once per question."""
    questions, seen = [], set()
    for path in sorted(Path(data_dir).glob("counselchat_*.json")):
        for conv in json.loads(path.read_text(encoding="utf-8"))["conversations"]:
            key = conv.get("question_id", conv["text"][:200])
            if key in seen:
                continue
            seen.add(key)
            first = conv["text"].split("\nTherapist:", 1)[0]
            questions.append(first.split(":", 1)[1].strip() if first.startswith("Client:") else first)
    return questions
