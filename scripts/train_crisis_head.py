"""Train the semantic crisis detector's head on the shipped training corpus.

    python scripts/train_crisis_head.py            # writes src/therapeutic_moe/safety/crisis_model.safetensors
    python scripts/train_crisis_head.py --check    # cross-validation report only, writes nothing

LoRA deltas (PEFT) on all-MiniLM-L6-v2 and a softmax head over the corpus groups. Reads the
training and development corpora and the rule probes; the threshold is chosen by 5-fold
cross-validation on them only: the blind sets are never read here. Multi-turn items are taught
as the window the detector reads (semantic.window_text), and ordinary turns are put before and
after single messages so the head learns windows too. Deterministic (fixed seed).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from dataclasses import dataclass, field

import numpy as np
import torch

from therapeutic_moe.safety.corpus import GROUPS, TRAINING_FILES, CorpusItem, load_corpus
from therapeutic_moe.safety.crisis_detector import CrisisDetector
from therapeutic_moe.safety.probe_eval import load_probes
from therapeutic_moe.safety.real_text import (EVERYDAY_TOPICS, annomi_sessions, client_windows, counselchat_threads,
                                              names_no_danger, trains_the_head)
from therapeutic_moe.errors import DataError
from therapeutic_moe.safety.encoder import EncoderFiles, EncoderUnavailable, load_base_encoder, mean_pool, token_batch
from therapeutic_moe.safety.semantic import LOGIT_SCALE, MODEL_FILE, CrisisModel, embed_text, lora_encoder, window_text


@dataclass
class HeadTraining:
    """Settings of the detector's training (LoRA on the encoder plus the softmax head)."""

    epochs: int = field(default=6, metadata={"help": "Passes over the training items."})
    batch_size: int = field(default=16, metadata={"help": "Items per optimizer step."})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate of the LoRA deltas and the head."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    label_smoothing: float = field(default=0.1, metadata={"help": "Keeps the head from near-certain outputs on unfamiliar text."})
    target_false_alarm: float = field(default=0.02, metadata={"help": "Cross-validated false-alarm rate the threshold aims at."})
    folds: int = field(default=5, metadata={"help": "Cross-validation folds for the threshold."})
    seed: int = field(default=0, metadata={"help": "Seed for the folds, the shuffling and the initialisation."})
    real_text_weight: float = field(default=4.0, metadata={"help": "Extra weight of the real client turns (class "
                                    "client_turn) over the equal weight every group gets: real text is most of what a "
                                    "deployed layer reads."})


def class_of(item: CorpusItem) -> str:
    """The head's class: the group, or the category's own group when an item overrides it
    (a slang message about self-harm is taught as self-harm)."""
    default_category = GROUPS[item.group][0]
    return item.group if item.category == default_category else item.category


# The rule probes (probes.json, written for the rules) teach the head too: crisis probes by
# category and level, the others by the kind of message they are.
_PROBE_CRISIS_GROUP = {("suicide", "low"): "passive_ideation", ("suicide", "moderate"): "active_ideation",
                       ("suicide", "high"): "plan_time_place"}
_PROBE_CATEGORY_GROUP = {"self_harm": "self_harm", "harm_to_others": "harm_to_others",
                         "abuse_in_progress": "abuse_in_progress"}
_PROBE_KIND_GROUP = {"hard_negative": "idiom", "ordinary": "ordinary", "past": "past_resolved",
                     "third_party": "third_party", "negated_safe": "venting", "educational": "fiction_media"}


# Probes that were near copies (cosine > 0.9) of the first held-out set's items, found by
# scripts/safety_eval.py's leak check; that set now trains too, so they would only repeat it.
EXCLUDED_PROBES = frozenset({"m018", "m029", "m058", "m068", "m108", "m112", "m156"})


def probe_items() -> list[CorpusItem]:
    items = []
    for probe in load_probes()["messages"]:
        if probe["id"] in EXCLUDED_PROBES:
            continue
        turns = (*probe.get("history", ()), probe["text"])
        if probe["crisis"]:
            group = _PROBE_CATEGORY_GROUP.get(probe["category"]) or _PROBE_CRISIS_GROUP[(probe["category"], probe["level"])]
            items.append(CorpusItem(group, turns, probe["category"]))
        else:
            items.append(CorpusItem(_PROBE_KIND_GROUP[probe["kind"]], turns, None))
    return items


_FILLERS = ("", "honestly ", "idk ", "tbh ", "i think ", "ugh ", "")


def style_variant(text: str, k: int) -> str:
    """The same message typed casually: lower case, no final punctuation, a chat filler."""
    return _FILLERS[k % len(_FILLERS)] + text.lower().rstrip(".!?")


def corpus_files(extra_files: tuple[Path, ...] = (), left_out: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """The files a head trains on: corpus.TRAINING_FILES and the extra ones, less the left-out ones
    (a fold head for scripts/crisis_sets_cv.py leaves out the blind sets it is scored on)."""
    names = {Path(p).name for p in left_out}
    return tuple(p for p in TRAINING_FILES + extra_files if p.name not in names)


def training_set(extra_files: tuple[Path, ...] = (), left_out: tuple[Path, ...] = ()) -> tuple[list[CorpusItem], np.ndarray]:
    """The training and development corpora (and any extra files, less any left out) and the probes,
    each followed by its casual-typing variant when that differs, then the context windows; for each
    item the index of its original (a variant or window shares its fold)."""
    originals = [item for path in corpus_files(extra_files, left_out) for item in load_corpus(path)] + probe_items()
    items, origin = [], []
    for k, item in enumerate(originals):
        items.append(item)
        origin.append(k)
        variant = style_variant(item.text, k)
        if len(item.turns) == 1 and variant != item.text:
            items.append(CorpusItem(item.group, (variant,), item.category))
            origin.append(k)
    windows, window_origin = context_windows(originals)
    real, real_origin = client_turn_items(first_origin=len(originals))
    return items + windows + real, np.array(origin + window_origin + real_origin)


def client_turn_items(first_origin: int) -> tuple[list[CorpusItem], list[int]]:
    """Real client text as negatives, from the halves that may train the head (even ids; the
    odd ones are the audit's): AnnoMI client turns, alternately the turn alone and the window
    before it, as the detector reads them, and counsel-chat questions of everyday topics that
    name no danger. Text the rules flag is left out (it may be truly concerning). A session's
    items share one fold. None when the data is absent."""
    rules, items, origin = CrisisDetector(), [], []
    sessions = [turns for tid, turns in annomi_sessions() if trains_the_head(tid)]
    for s, turns in enumerate(sessions):
        for k, window in enumerate(client_windows(turns)):
            if rules.assess_turns(window).is_crisis:
                continue
            items.append(CorpusItem("client_turn", tuple(window[-1:] if k % 2 == 0 else window), None))
            origin.append(first_origin + s)
    questions = [q for qid, topic, q in counselchat_threads() if trains_the_head(qid) and topic in EVERYDAY_TOPICS
                 and names_no_danger(q) and not rules.assess(q).is_crisis]
    for n, question in enumerate(questions):
        items.append(CorpusItem("client_turn", (question,), None))
        origin.append(first_origin + len(sessions) + n)
    return items, origin


_CONTEXT_GROUPS = ("ordinary", "venting")  # what people say before (or after) the message that matters


def context_windows(originals: list[CorpusItem], every: int = 3, seed: int = 0) -> tuple[list[CorpusItem], list[int]]:
    """Windows as the detector reads them in a conversation, from single messages: one or two
    ordinary turns before a message keep its label (a crisis after small talk is a crisis), and
    so does an ordinary turn after a crisis message (risk said a turn ago still stands: the
    window must not read a change of subject as the all-clear; a clarification that the first
    message was a figure of speech is what ends it, and the corpus's multi_turn_calm items teach that)."""
    rng = np.random.default_rng(seed)
    singles = [(k, i) for k, i in enumerate(originals) if len(i.turns) == 1]
    context = [i.text for _, i in singles if i.group in _CONTEXT_GROUPS]
    windows, origin = [], []
    for n, (k, item) in enumerate(singles):
        if n % every:
            continue
        before = [context[j] for j in rng.choice(len(context), size=1 + n % 2, replace=False)]
        windows.append(CorpusItem(item.group, (*before, item.text), item.category))
        origin.append(k)
        if item.is_crisis and n % (2 * every) == 0:
            windows.append(CorpusItem(item.group, (item.text, context[rng.integers(len(context))]), item.category))
            origin.append(k)
    return windows, origin


def training_items() -> list[CorpusItem]:
    return training_set()[0]


def class_weights(y: np.ndarray, classes: list[str], cfg: HeadTraining) -> np.ndarray:
    """Loss weight per class: every group counts the same in all, whatever its number of items,
    except the real client turns, which count cfg.real_text_weight times as much."""
    counts = np.bincount(y, minlength=len(classes)).clip(min=1)
    weights = len(y) / (len(classes) * counts)
    if "client_turn" in classes:
        weights[classes.index("client_turn")] *= cfg.real_text_weight
    return weights


def fit(base, tokenizer, texts: list[str], y: np.ndarray, classes: list[str], cfg: HeadTraining) -> CrisisModel:
    """LoRA deltas and head trained on (texts, y); base is left untouched."""
    from peft import get_peft_model_state_dict

    torch.manual_seed(cfg.seed)
    device = next(base.parameters()).device
    model = lora_encoder(copy.deepcopy(base))
    head = torch.nn.Linear(base.config.hidden_size, len(classes)).to(device)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    class_weight = torch.tensor(class_weights(y, classes, cfg), dtype=torch.float32, device=device)
    rng = np.random.default_rng(cfg.seed)
    model.train()
    for _ in range(cfg.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            ids, mask = token_batch(tokenizer, [texts[i] for i in idx])
            logits = head(LOGIT_SCALE * mean_pool(model, ids.to(device), mask.to(device)))
            target = torch.from_numpy(y[idx]).to(device)
            loss = torch.nn.functional.cross_entropy(logits, target, weight=class_weight,
                                                     label_smoothing=cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
    state = {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}
    weight, bias = head.weight.detach().cpu().numpy().copy(), head.bias.detach().cpu().numpy().copy()
    return CrisisModel(tuple(classes), state, weight, bias, 0.5)


def predict(model: CrisisModel, base, tokenizer, texts: list[str]) -> np.ndarray:
    """Crisis probability of each text under a trained model."""
    encoder = model.merged_encoder(copy.deepcopy(base), tokenizer)
    return model.probabilities(encoder.encode(texts))[:, model.crisis_mask].sum(1)


def cross_validated_probabilities(base, tokenizer, texts, y, origin, classes, cfg: HeadTraining) -> np.ndarray:
    fold = (np.random.default_rng(cfg.seed).permutation(origin.max() + 1) % cfg.folds)[origin]
    out = np.zeros(len(y))
    for k in range(cfg.folds):
        train = np.where(fold != k)[0]
        model = fit(base, tokenizer, [texts[i] for i in train], y[train], classes, cfg)
        out[fold == k] = predict(model, base, tokenizer, [texts[i] for i in np.where(fold == k)[0]])
        print(f"  fold {k + 1}/{cfg.folds} done", flush=True)
    return out


def choose_threshold(p: np.ndarray, is_crisis: np.ndarray, target: float) -> float:
    """The lowest threshold whose cross-validated false-alarm rate stays within target."""
    for t in np.arange(0.05, 0.995, 0.01):
        if (p[~is_crisis] >= t).mean() <= target:
            return float(round(t, 2))
    return 0.99


def set_threshold(threshold: float) -> int:
    """Move the operating point of the shipped model; the cross-validated one stays in its report."""
    if not 0.0 < threshold < 1.0:
        print(f"--set-threshold must be between 0 and 1, got {threshold}", file=sys.stderr)
        return 2
    model = CrisisModel.load(MODEL_FILE)
    model.report.setdefault("cv_threshold", model.threshold)
    model.threshold = threshold
    model.save(MODEL_FILE)
    print(f"{MODEL_FILE.name}: threshold {threshold} (cross-validated: {model.report['cv_threshold']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report cross-validation only; do not write the model")
    parser.add_argument("--epochs", type=int, default=HeadTraining.epochs, help="passes over the training items")
    parser.add_argument("--real-text-weight", type=float, default=HeadTraining.real_text_weight,
                        help=HeadTraining.__dataclass_fields__["real_text_weight"].metadata["help"])
    parser.add_argument("--seed", type=int, default=HeadTraining.seed, help=HeadTraining.__dataclass_fields__["seed"]
                        .metadata["help"] + " Two seeds of one recipe show how much of a difference is the fit.")
    parser.add_argument("--encoder-dir", help="train on these encoder files (model.safetensors, possibly a float16 "
                        "copy, config.json, tokenizer.json) instead of the installed package, e.g. on a GPU machine")
    parser.add_argument("--no-cv", type=float, metavar="P",
                        help="skip cross-validation and store threshold P (quicker; the report says so)")
    parser.add_argument("--set-threshold", type=float, metavar="P",
                        help="only change the stored decision threshold of the shipped model to P (no training)")
    parser.add_argument("--add-training", type=Path, action="append", default=[], metavar="FILE",
                        help="also train on this corpus file (repeatable), e.g. a new round's items before they join "
                             "corpus.TRAINING_FILES; the model report lists it")
    parser.add_argument("--leave-out", type=Path, action="append", default=[], metavar="FILE",
                        help="do not train on this file of corpus.TRAINING_FILES (repeatable): a fold head for "
                             "scripts/crisis_sets_cv.py, scored on the sets it left out")
    parser.add_argument("--out", type=Path, default=MODEL_FILE, help="where to write the head (default: the shipped file)")
    args = parser.parse_args(argv)
    if args.set_threshold is not None:
        return set_threshold(args.set_threshold)
    cfg = HeadTraining(epochs=args.epochs, real_text_weight=args.real_text_weight, seed=args.seed)
    extra, left_out = tuple(args.add_training), tuple(args.leave_out)
    unknown = [p.name for p in left_out if p.name not in {f.name for f in TRAINING_FILES + extra}]
    if unknown:
        print(f"--leave-out: {unknown} are not training files; they are {[f.name for f in TRAINING_FILES]}", file=sys.stderr)
        return 2
    items, origin = training_set(extra, left_out)
    if not any(i.group == "client_turn" for i in items):
        print("note: no AnnoMI sessions found beside the project; training without real client turns")
    classes = sorted({class_of(i) for i in items})
    texts = [embed_text(window_text(i.turns)) for i in items]
    y = np.array([classes.index(class_of(i)) for i in items])
    is_crisis = np.array([i.is_crisis for i in items])
    start = time.time()
    if args.encoder_dir:
        d = Path(args.encoder_dir)
        base, tokenizer = load_base_encoder(EncoderFiles(d / "model.safetensors", d / "config.json", d / "tokenizer.json"),
                                            verify=False)
    else:
        base, tokenizer = load_base_encoder()
    base = base.to("cuda" if torch.cuda.is_available() else "cpu")
    if args.no_cv is not None:
        p, threshold = None, args.no_cv
        recall = false_alarm = float("nan")
    else:
        p = cross_validated_probabilities(base, tokenizer, texts, y, origin, classes, cfg)
        threshold = choose_threshold(p, is_crisis, cfg.target_false_alarm)
        recall, false_alarm = (p[is_crisis] >= threshold).mean(), (p[~is_crisis] >= threshold).mean()
    print(f"{len(items)} training items, {len(classes)} classes; {cfg.folds}-fold CV: threshold {threshold}, "
          f"recall {recall:.3f}, false alarms {false_alarm:.3f} ({time.time() - start:.0f} s)")
    if args.check:
        return 0
    model = fit(base, tokenizer, texts, y, classes, cfg)
    model.threshold = threshold
    model.report = {"cv_threshold": None if args.no_cv is not None else threshold,
                    "trained_on": [path.name for path in corpus_files(extra, left_out)] + ["probes.json"]
                    + (["AnnoMI client turns and everyday counsel-chat questions (even ids)"] if "client_turn" in classes else []), "items": len(items),
                    "cv_recall": None if p is None else round(float(recall), 4),
                    "cv_false_alarm": None if p is None else round(float(false_alarm), 4),
                    "training": cfg.__dict__, "encoder_files": "float16 copy" if args.encoder_dir else "installed package",
                    "device": str(next(base.parameters()).device)}
    model.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB) in {time.time() - start:.0f} s")
    return 0


def run(argv: list[str] | None = None) -> int:
    """main() with user errors (missing encoder package, bad corpus file) as one line and exit 2."""
    try:
        return main(argv)
    except (EncoderUnavailable, DataError) as exc:
        print(f"train_crisis_head: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
