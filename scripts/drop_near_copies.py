"""Drop training items that are near copies of a blind set's items, before the head trains.

    python scripts/drop_near_copies.py crisis_corpus_blind7.json           # rewrite the training files
    python scripts/drop_near_copies.py crisis_corpus_blind7.json --dry-run # only count

An item goes when any of its turns is within cosine similarity 0.9 (base encoder) of any turn
of a blind item, or repeats one word for word; only turns of three words or more count ("ok" is written by
everyone). Turns are compared
one by one, so a blind message sitting as one turn inside a training conversation is found too.
Only counts are printed: the blind text is never shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from therapeutic_moe.safety.corpus import CORPUS_DIR, TRAINING_FILES, load_corpus
from therapeutic_moe.safety.encoder import SentenceEncoder

SIMILARITY = 0.9


def near_copy_flags(encoder, train_turns: list[tuple[str, ...]], blind_turns: list[str], blind=None) -> list[bool]:
    """Per training item: is any of its turns a near copy of a blind turn? ``blind``: the blind
    turns' embeddings when already computed (one encoding for every training file)."""
    blind = encoder.encode(blind_turns) if blind is None else blind
    blind_exact = {t.lower().strip() for t in blind_turns if len(t.split()) > 2}
    flat = [t for turns in train_turns for t in turns]
    best = (encoder.encode(flat) @ blind.T).max(1) if flat else np.zeros(0)
    flags, k = [], 0
    for turns in train_turns:
        close = [sim for sim, t in zip(best[k:k + len(turns)], turns) if len(t.split()) > 2]
        flags.append(any(sim > SIMILARITY for sim in close) or any(t.lower().strip() in blind_exact for t in turns))
        k += len(turns)
    return flags


def rewrite(path: Path, keep: list[bool]) -> None:
    """The file without the dropped items, in the corpus files' layout (one item a line)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    items = [item for item, kept in zip(raw["items"], keep) if kept]
    lines = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)
    path.write_text('{"about": ' + json.dumps(raw["about"], ensure_ascii=False) + ',\n "items": [\n' + lines + "\n ]}\n",
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("blind", type=Path, help="the blind set: a path, or a file name beside the corpus")
    parser.add_argument("--dry-run", action="store_true", help="count only; change no file")
    args = parser.parse_args(argv)
    blind_path = args.blind if args.blind.exists() else CORPUS_DIR / args.blind
    if blind_path in TRAINING_FILES:
        print(f"error: {blind_path.name} is a training file", file=sys.stderr)
        return 2
    encoder = SentenceEncoder()
    blind_turns = [t for item in load_corpus(blind_path) for t in item.turns]
    blind = encoder.encode(blind_turns)
    for path in TRAINING_FILES:
        items = load_corpus(path)
        raw_count = len(json.loads(path.read_text(encoding="utf-8"))["items"])
        if raw_count != len(items):
            print(f"error: {path.name}: {raw_count} raw items but {len(items)} loaded", file=sys.stderr)
            return 2
        flags = near_copy_flags(encoder, [i.turns for i in items], blind_turns, blind)
        print(f"{path.name}: {sum(flags)} of {len(items)} items are near copies of {blind_path.name}")
        if sum(flags) and not args.dry_run:
            rewrite(path, [not f for f in flags])
    return 0


if __name__ == "__main__":
    sys.exit(main())
