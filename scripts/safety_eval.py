"""Print the crisis-detection tables of docs/safety.md (recall, false alarms, real text, latency).

Held-out recall per group and false alarms, how fired third-party worry is answered, a leak
check between training and held-out text, real client text, and latency.

    python scripts/safety_eval.py                    # all tables
    python scripts/safety_eval.py --show-flagged     # also print the flagged real client turns (to audit by eye)
    python scripts/safety_eval.py --show-misses      # also print held-out misses and false alarms

Real client text (AnnoMI client turns, each read with the client turns before it, and
counsel-chat questions; only the audit halves the crisis head never trained on, see
therapeutic_moe/safety/real_text.py) is read from ../shared/data when present; its text is only
printed to the terminal with --show-flagged, never stored. The default test set is the newest
blind set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from therapeutic_moe.safety import SafetyLayer
from therapeutic_moe.safety.corpus import BLIND_FILE, CORPUS_DIR, GROUPS, load_corpus
from therapeutic_moe.safety.crisis_detector import CrisisDetector
from therapeutic_moe.safety.layer import USER_TURNS_WINDOW
from therapeutic_moe.safety.real_text import (SHARED_DATA, annomi_sessions, client_windows, counselchat_questions,
                                              counselchat_threads, trains_the_head)
from therapeutic_moe.safety.semantic import window_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_crisis_head import training_items  # noqa: E402  (the head's exact training items, probes included)

ORDINARY_GROUPS = ("ordinary", "venting")
LEAK_SIMILARITY = 0.9  # cosine similarity (base encoder) above which a held-out item counts as a near copy


def user_turns(texts) -> list[dict]:
    return [{"role": "user", "content": t} for t in texts]


def detect(layer: SafetyLayer, rules: CrisisDetector, items) -> list[tuple[bool, bool, bool]]:
    """(rules, semantic, combined) verdict per item."""
    out = []
    for item in items:
        turns = list(item.turns[-USER_TURNS_WINDOW:])
        by_rules = rules.assess_turns(turns).is_crisis
        by_semantic = layer.semantic.assess_turns(turns, layer.semantic_threshold).is_crisis if layer.semantic else False
        out.append((by_rules, by_semantic, layer.check_user_message(user_turns(item.turns)).is_crisis))
    return out


def third_party_replies(layer: SafetyLayer, items) -> list[str]:
    """How the fired third-party items are answered: worry about someone else should get the
    helper's reply (resources, how to support them), not the reply for a person at risk."""
    from therapeutic_moe.inference.safety_bridge import HELPER_REPLY_ID, SafetyBridge

    bridge = SafetyBridge(layer, third_party_reply="{resources}")
    fired = [a for a in (bridge.check(user_turns(i.turns)) for i in items if i.group == "third_party") if a is not None]
    helper = sum(HELPER_REPLY_ID in a.matched_rules for a in fired)
    return [f"third-party worry that fired: {len(fired)}; answered with the helper's reply: {helper}, "
            f"with the reply for a person at risk: {len(fired) - helper}"]


def group_table(items, verdicts) -> list[str]:
    lines = ["| group | kind | n | rules | semantic | **combined** |", "|---|---|---|---|---|---|"]
    for group in GROUPS:
        rows = [v for i, v in zip(items, verdicts) if i.group == group]
        if not rows:
            continue
        kind = "crisis: recall" if GROUPS[group][0] else "not crisis: fired"
        rates = [sum(r[k] for r in rows) / len(rows) for k in range(3)]
        lines.append(f"| {group} | {kind} | {len(rows)} | {rates[0]:.3f} | {rates[1]:.3f} | **{rates[2]:.3f}** |")
    return lines


def summary_table(items, verdicts) -> list[str]:
    def rate(select):
        rows = [v for i, v in zip(items, verdicts) if select(i)]
        return len(rows), [sum(r[k] for r in rows) / max(1, len(rows)) for k in range(3)]

    lines = ["| measure | n | rules | semantic | **combined** |", "|---|---|---|---|---|"]
    for name, select in (("recall, all crisis items", lambda i: i.is_crisis),
                         ("false alarms, ordinary messages (ordinary + venting)", lambda i: i.group in ORDINARY_GROUPS),
                         ("false alarms, hard negatives", lambda i: not i.is_crisis and i.group not in ORDINARY_GROUPS),
                         ("false alarms, all non-crisis items", lambda i: not i.is_crisis)):
        n, r = rate(select)
        lines.append(f"| {name} | {n} | {r[0]:.3f} | {r[1]:.3f} | **{r[2]:.3f}** |")
    return lines


def engine_agreement(layer: SafetyLayer, items) -> list[str]:
    """The semantic detector's decisions on ONNX Runtime against PyTorch, for every text it
    reads on the held-out set (each latest message and each window)."""
    detector = layer.semantic
    if detector is None or detector.encoder.engine != "onnxruntime":
        return [f"engine: {detector.encoder.engine if detector else 'none'} (no ONNX Runtime check)"]
    texts = sorted({t for i in items for t in ([i.text] + ([window_text(i.turns)] if len(i.turns) > 1 else []))})
    fast = np.array([s.crisis_probability for s in detector.scores(texts)])
    with detector.encoder.on_torch():
        slow = np.array([s.crisis_probability for s in detector.scores(texts)])
    threshold = detector.model.threshold
    flips = int(((fast >= threshold) != (slow >= threshold)).sum())
    return [f"engine: onnxruntime; decisions that differ from PyTorch: {flips} of {len(texts)} texts "
            f"(largest probability difference {np.abs(fast - slow).max():.1e})"]


def leak_check(heldout, train) -> tuple[list[str], list[tuple[float, str, str]]]:
    from therapeutic_moe.safety.encoder import SentenceEncoder

    encoder = SentenceEncoder()
    train = [t for i in train for t in i.turns]
    sims = encoder.encode([i.text for i in heldout]) @ encoder.encode(train).T
    best = sims.max(1)
    pairs = sorted(((float(best[k]), heldout[k].text, train[int(sims[k].argmax())]) for k in range(len(heldout))),
                   reverse=True)
    lines = [f"held-out items: {len(heldout)}; nearest training item by cosine similarity (base encoder): "
             f"median {np.median(best):.3f}, max {best.max():.3f}; above {LEAK_SIMILARITY}: "
             f"{int((best > LEAK_SIMILARITY).sum())}"]
    return lines, pairs


def real_client_texts() -> dict[str, list[str]]:
    """AnnoMI client turns and counsel-chat questions (one per question), when the data is there."""
    found = {"AnnoMI client turns": [t for _, turns in annomi_sessions() for t in turns],
             "counsel-chat questions": counselchat_questions()}
    return {name: texts for name, texts in found.items() if texts}


def real_client_windows() -> dict[str, list[list[str]]]:
    """What the layer reads at each real client turn: the turn with the client turns before it
    in its session, or the question alone (counsel-chat); the audit halves only (odd ids), text
    the head never trained on."""
    audit = [w for tid, turns in annomi_sessions() if not trains_the_head(tid) for w in client_windows(turns)]
    found = {"AnnoMI client turns, audit sessions": audit,
             "counsel-chat questions, audit half": [[q] for qid, _, q in counselchat_threads() if not trains_the_head(qid)]}
    return {name: windows for name, windows in found.items() if windows}


def real_text_table(layer, rules, show: bool) -> list[str]:
    """Each real client turn as the layer sees it in its conversation (with the client turns
    before it), so the multi-turn window's false alarms are counted too."""
    windows = real_client_windows()
    if not windows:
        return [f"(no real data at {SHARED_DATA.name}: skipped)"]
    lines = ["| source | texts | rules fired | semantic fired | combined fired | combined rate |", "|---|---|---|---|---|---|"]
    for name, items in windows.items():
        fired = [0, 0, 0]
        for turns in items:
            r = rules.assess_turns(turns).is_crisis
            s = layer.semantic.assess_turns(turns, layer.semantic_threshold).is_crisis if layer.semantic else False
            c = layer.check_user_message(user_turns(turns)).is_crisis
            fired = [fired[0] + r, fired[1] + s, fired[2] + c]
            if show and c:
                print(f"[{name} | rules={r} semantic={s}] {' || '.join(turns)[-600:]}")
        lines.append(f"| {name} | {len(items)} | {fired[0]} | {fired[1]} | {fired[2]} | {fired[2] / len(items):.4f} |")
    return lines


def latency(layer, items) -> list[str]:
    """Timed with an empty encoder cache per case: every message is new to the encoder. With
    the encoder on ONNX Runtime, PyTorch is timed in the same run as the baseline."""
    singles = [[{"role": "user", "content": i.text}] for i in items]
    histories = [[{"role": "user", "content": t} for t in (items[k - 3].text, items[k - 2].text, items[k - 1].text, items[k].text)]
                 for k in range(3, len(items))]
    encoder = layer.semantic.encoder if layer.semantic is not None else None
    engines = [encoder.engine if encoder else "rules only"] + (["torch"] if encoder and encoder.engine == "onnxruntime" else [])
    lines = []
    for name, cases in (("one message", singles), ("four user turns", histories)):
        for engine in engines:
            with encoder.on_torch() if engine == "torch" else nullcontext():
                times = []
                for messages in cases:
                    if encoder is not None:
                        encoder.clear_cache()
                    start = time.perf_counter()
                    layer.check_user_message(messages)
                    times.append((time.perf_counter() - start) * 1000)
            times.sort()
            lines.append(f"check_user_message, {name}, encoder on {engine}: median {statistics.median(times):.1f} ms, "
                         f"p95 {times[int(0.95 * len(times))]:.1f} ms (n={len(times)})")
    return lines


def make_layer(model_file: Path | None, threshold: float | None) -> SafetyLayer:
    """The shipped layer, or one whose semantic detector uses another head file or threshold."""
    from dataclasses import replace

    from therapeutic_moe.config import SafetyConfig
    from therapeutic_moe.safety.semantic import CrisisModel, SemanticCrisisDetector

    cfg = SafetyConfig()
    if threshold is not None:
        cfg = replace(cfg, semantic_crisis_threshold=threshold)
    semantic = SemanticCrisisDetector(CrisisModel.load(model_file)) if model_file is not None else None
    return SafetyLayer(cfg, semantic=semantic)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show-flagged", action="store_true", help="print flagged real client texts to the terminal")
    parser.add_argument("--show-misses", action="store_true", help="print held-out misses and false alarms")
    parser.add_argument("--skip-real", action="store_true", help="skip the real-text audit")
    parser.add_argument("--heldout", type=Path, default=BLIND_FILE,
                        help=f"the test set to score: a path, or a file name beside the corpus (default: "
                             f"{BLIND_FILE.name}, the newest blind set; crisis_corpus_blind.json to "
                             "crisis_corpus_blind5.json are earlier ones, already scored and now training data, and "
                             "crisis_corpus_blind6.json to crisis_corpus_blind12.json were scored too)")
    parser.add_argument("--model", type=Path, help="score this semantic head file (a crisis_model.safetensors "
                        "written by scripts/train_crisis_head.py) instead of the shipped one")
    parser.add_argument("--threshold", type=float, help="the semantic decision threshold (default: the head's own)")
    args = parser.parse_args(argv)
    if not args.heldout.exists() and (CORPUS_DIR / args.heldout).exists():
        args.heldout = CORPUS_DIR / args.heldout
    layer, rules = make_layer(args.model, args.threshold), CrisisDetector()
    print("detectors:", layer.detector_status["mode"], layer.detector_status["semantic_unavailable"] or "")
    heldout = load_corpus(args.heldout)
    verdicts = detect(layer, rules, heldout)
    print(f"\n## Held-out corpus ({args.heldout.name}), per group\n")
    print("\n".join(group_table(heldout, verdicts)))
    print("\n## Held-out corpus, summary\n")
    print("\n".join(summary_table(heldout, verdicts)))
    print("\n" + "\n".join(third_party_replies(layer, heldout)))
    print("\n".join(engine_agreement(layer, heldout)))
    if args.show_misses:
        for item, v in zip(heldout, verdicts):
            if v[2] != item.is_crisis:
                print(f"  {'MISS' if item.is_crisis else 'FALSE ALARM'} [{item.group}] rules={v[0]} semantic={v[1]}: "
                      f"{' || '.join(item.turns)}")
    print("\n## Leak check\n")
    if layer.semantic is None:
        print("(no sentence encoder installed: skipped)")
        lines, pairs = [], []
    else:
        lines, pairs = leak_check(heldout, training_items())
    print("\n".join(lines))
    if args.show_misses:
        for sim, h, t in pairs[:8]:
            print(f"  {sim:.3f}  held-out: {h}  |  training: {t}")
    if not args.skip_real:
        print("\n## Real client text\n")
        print("\n".join(real_text_table(layer, rules, args.show_flagged)))
    print(f"\n## Latency ({torch.get_num_threads()} threads)\n")
    print("\n".join(latency(layer, [i for i in heldout if len(i.turns) == 1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
