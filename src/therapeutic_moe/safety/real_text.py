"""Real client text beside the project (``../shared/data``, when present): AnnoMI client turns
and counsel-chat questions, for the crisis detector's false-alarm audit, and one half of each
as in-domain negatives for its training.

Both are split by id: AnnoMI sessions by transcript id, counsel-chat questions by question id.
Even ids may train the detector's head, odd ids are only ever audited, so the audit reads text
the head has not seen. Of the counsel-chat half that trains, only questions of everyday topics
that name no danger are negatives (many questions are about self-harm, suicide or abuse: they
are no negatives). Nothing read here is stored in the project.
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


def trains_the_head(text_id: int) -> bool:
    """Even transcript or question ids may train the detector; odd ones are audit only."""
    return text_id % 2 == 0


# Counsel-chat topics whose questions may be negatives (when they name no danger, below).
EVERYDAY_TOPICS = frozenset({
    "relationships", "intimacy", "family-conflict", "parenting", "self-esteem", "behavioral-change",
    "relationship-dissolution", "marriage", "workplace-relationships", "social-relationships", "spirituality",
    "sleep-improvement", "professional-ethics", "legal-regulatory", "stress", "human-sexuality",
    "children-adolescents", "counseling-fundamentals", "anxiety", "lgbtq"})
# Word stems that keep a question out of the negatives, whatever its topic: it may be a crisis.
DANGER_STEMS = ("die", "dying", "dead", "death", "kill", "suicid", "cut", "hurt", "harm", "abus", "hit", "threat",
                "scare", "afraid", "fear", "rape", "assault", "violen", "weapon", "gun", "knife", "pill", "overdos",
                "worthless", "hopeless", "end it", "hate myself", "stalk", "choke", "unsafe", "danger", "police")


def names_no_danger(text: str) -> bool:
    low = text.lower()
    return not any(stem in low for stem in DANGER_STEMS)


def client_windows(turns: list[str]) -> list[list[str]]:
    """What the layer reads at each client turn: the turn with the client turns before it."""
    return [turns[: k + 1][-USER_TURNS_WINDOW:] for k in range(len(turns))]


def counselchat_questions(data_dir: Path = SHARED_DATA) -> list[str]:
    """The client's question of every counsel-chat thread, once per question."""
    return [text for _, _, text in counselchat_threads(data_dir)]


def counselchat_threads(data_dir: Path = SHARED_DATA) -> list[tuple[int, str, str]]:
    """(question id, topic, the client's question) of every counsel-chat question, once each."""
    questions, seen = [], set()
    for path in sorted(Path(data_dir).glob("counselchat_*.json")):
        for conv in json.loads(path.read_text(encoding="utf-8"))["conversations"]:
            key = conv.get("question_id", conv["text"][:200])
            if key in seen:
                continue
            seen.add(key)
            first = conv["text"].split("\nTherapist:", 1)[0]
            text = first.split(":", 1)[1].strip() if first.startswith("Client:") else first
            questions.append((int(conv["question_id"]), conv.get("topic", ""), text))
    return questions
