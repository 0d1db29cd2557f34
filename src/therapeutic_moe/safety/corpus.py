"""The labelled crisis corpus the project ships (see CORPUS.md beside this file).

``crisis_corpus_train.json`` and ``crisis_corpus_dev.json`` (the first held-out set, a
development set since its misses were read) train the semantic detector's head; the blind
sets ``crisis_corpus_blind*.json``, written apart, are scored once each, and the ones already
scored train the head too (RETIRED_BLIND_FILES); the newest (BLIND_FILE) never does. Every item belongs to a
group; a group says whether the item is a crisis, its category and the level it stands for
(the C-SSRS ladder and the safe-messaging warning signs), or which kind of hard negative it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from therapeutic_moe.errors import DataError
from therapeutic_moe.safety.assessment import CATEGORIES, RiskLevel

CORPUS_DIR = Path(__file__).resolve().parent
TRAIN_FILE = CORPUS_DIR / "crisis_corpus_train.json"
DEV_FILE = CORPUS_DIR / "crisis_corpus_dev.json"
# The blind sets already scored train the head too: the first five since the seventh round, the
# sixth to thirteenth since the eleventh (2026-12-04), which was judged on them as folds
# (scripts/crisis_sets_cv.py) before the fifteenth set decided.
RETIRED_BLIND_FILES = tuple(CORPUS_DIR / f"crisis_corpus_blind{n}.json"
                            for n in ("", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"))
TRAINING_FILES = (TRAIN_FILE, DEV_FILE, CORPUS_DIR / "crisis_corpus_train_voices.json",
                  CORPUS_DIR / "crisis_corpus_train_voices2.json") + RETIRED_BLIND_FILES
# Written and tried, not in TRAINING_FILES: the eighth round's file (its head scored lower on the
# seventh blind set), and the tenth round's (930 ordinary messages and other hard negatives, 160
# calm crisis messages): neither helped on later sets, nor, in the eleventh round, on the folds
# of eight blind sets (docs/safety.md).
# The twelfth round's file (danger words in harmless senses and, on the same topics, with intent)
# gave a head with a third fewer real-text flags that found one crisis fewer on the sixteenth set.
TRIED_NOT_USED_FILES = (CORPUS_DIR / "crisis_corpus_train_voices3.json", CORPUS_DIR / "crisis_corpus_train_ordinary.json",
                        CORPUS_DIR / "crisis_corpus_train_senses.json")
# crisis_corpus_blind14.json to crisis_corpus_blind17.json were scored once and decided between heads;
# the fourteenth to sixteenth trained the thirteenth round's candidate, which was not shipped (docs/safety.md).
BLIND_FILE = CORPUS_DIR / "crisis_corpus_blind18.json"  # the newest blind set, the one whose score counts

# group -> (category when the group is a crisis, else None; level a detection reports)
GROUPS: dict[str, tuple[str | None, RiskLevel]] = {
    "passive_ideation": ("suicide", RiskLevel.LOW),
    "active_ideation": ("suicide", RiskLevel.MODERATE),
    "burdensomeness": ("suicide", RiskLevel.LOW),
    "hopelessness_entrapment": ("suicide", RiskLevel.LOW),
    "preparatory_acts": ("suicide", RiskLevel.HIGH),
    "method_seeking": ("suicide", RiskLevel.HIGH),
    "access_to_means": ("suicide", RiskLevel.HIGH),
    "plan_time_place": ("suicide", RiskLevel.HIGH),
    "cannot_stay_safe": ("suicide", RiskLevel.HIGH),
    "attempt_done": ("suicide", RiskLevel.HIGH),
    "self_harm": ("self_harm", RiskLevel.MODERATE),
    "harm_to_others": ("harm_to_others", RiskLevel.HIGH),
    "abuse_in_progress": ("abuse_in_progress", RiskLevel.MODERATE),
    "slang": ("suicide", RiskLevel.MODERATE),
    "typos": ("suicide", RiskLevel.MODERATE),
    "multi_turn": ("suicide", RiskLevel.HIGH),
    "idiom": (None, RiskLevel.NONE),
    "past_resolved": (None, RiskLevel.NONE),
    "fiction_media": (None, RiskLevel.NONE),
    "medication": (None, RiskLevel.NONE),
    "third_party": (None, RiskLevel.NONE),
    "venting": (None, RiskLevel.NONE),
    "ordinary": (None, RiskLevel.NONE),
    "multi_turn_calm": (None, RiskLevel.NONE),
    # real client text that may train the head (real_text.py: AnnoMI turns, everyday counsel-chat
    # questions, even ids): never in a corpus file, only read from the shared data at training time
    "client_turn": (None, RiskLevel.NONE),
}


@dataclass(frozen=True)
class CorpusItem:
    group: str = field(metadata={"help": "One of GROUPS."})
    turns: tuple[str, ...] = field(metadata={"help": "User turns, oldest first; the last one is assessed."})
    category: str | None = field(default=None, metadata={"help": "Crisis category; None for a non-crisis item."})

    @property
    def is_crisis(self) -> bool:
        return self.category is not None

    @property
    def text(self) -> str:
        return self.turns[-1]


def load_corpus(path: Path) -> list[CorpusItem]:
    """Items of one corpus file; a malformed item is a DataError naming its index."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the crisis corpus ({exc})") from None
    items = []
    for i, entry in enumerate(raw.get("items", []) if isinstance(raw, dict) else []):
        group = entry.get("group") if isinstance(entry, dict) else None
        if group not in GROUPS:
            raise DataError(f"{path}: items[{i}] has unknown group {group!r}; known: {sorted(GROUPS)}")
        turns = entry.get("turns") or [entry.get("text")]
        if not all(isinstance(t, str) and t.strip() for t in turns):
            raise DataError(f"{path}: items[{i}] needs non-empty 'text' or 'turns'")
        category = entry.get("category", GROUPS[group][0])
        if category is not None and category not in CATEGORIES:
            raise DataError(f"{path}: items[{i}] has unknown category {category!r}; known: {list(CATEGORIES)}")
        items.append(CorpusItem(group, tuple(turns), category))
    if not items:
        raise DataError(f"{path}: no items; expected {{\"items\": [{{\"group\": ..., \"text\": ...}}]}}")
    return items
