"""The learned crisis detector: a LoRA-tuned sentence encoder and a softmax head over the corpus groups.

``crisis_model.safetensors`` beside this file holds the LoRA deltas of all-MiniLM-L6-v2 (PEFT,
rank 8) and the head, trained by ``scripts/train_crisis_head.py`` on the corpus files
(``corpus.TRAINING_FILES``), the rule probes and real client turns. At load the deltas are merged into the
pinned encoder, so scoring costs one plain encoder pass. The head's classes are the corpus
groups (C-SSRS steps, warning signs, kinds of hard negative); the crisis probability is the
summed probability of the crisis groups, and a message is a crisis from the stored threshold.

Multi-turn: the latest user message is scored alone and, when earlier user turns exist, also
as one window with up to two of them (both in one encoder batch); the higher score counts. The
head is trained on such windows too (conversations whose risk only shows across turns, ordinary
turns before or after a crisis, and alarming openers that the next turn shows to be harmless),
so "after my shift tomorrow then" after "I've worked out how" is read together, "what time is
it" after "i took all my pills an hour ago" still counts as a crisis, and "to my school lol"
after "i wrote a goodbye letter" does not. (A plain change of subject right after "I want to
die" reads as calm with the shipped head: docs/safety.md, Known limits.)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from therapeutic_moe.safety.assessment import NO_CRISIS, CrisisAssessment
from therapeutic_moe.safety.corpus import GROUPS
from therapeutic_moe.safety.encoder import WEIGHTS_SHA256, EncoderUnavailable, SentenceEncoder, load_base_encoder
from therapeutic_moe.safety.normalize import normalize
from therapeutic_moe.safety.onnx_encoder import move_to_onnx_runtime

MODEL_FILE = Path(__file__).resolve().parent / "crisis_model.safetensors"
WINDOW_TURNS = 3  # the latest user message and the two before it, read together
TURN_SEPARATOR = " | "  # marks where one user turn ends in a window; the normal form keeps it
LORA_SETTINGS = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "target_modules": ["query", "key", "value", "dense"]}
LOGIT_SCALE = 20.0  # the head reads unit vectors; this lets it reach confident logits


def window_text(user_texts) -> str:
    """The last WINDOW_TURNS user turns as one text, oldest first."""
    return TURN_SEPARATOR.join(list(user_texts)[-WINDOW_TURNS:])


def scored_texts(user_texts) -> list[str]:
    """What the detector scores for the latest user turn: the message alone and, with earlier
    turns, their window too; the higher score counts."""
    user_texts = list(user_texts)
    return [user_texts[-1]] + ([window_text(user_texts)] if len(user_texts) > 1 else [])


def embed_text(text: str) -> str:
    """What the encoder reads: the rules' normal form (chat spellings expanded, typos on key
    words fixed), so "kms" and "myslef" look like the words they stand for."""
    return normalize(text)


def lora_encoder(base_model, settings: dict = LORA_SETTINGS):
    """The encoder wrapped with fresh PEFT LoRA deltas (LORA_SETTINGS, or a soup's wider rank)."""
    from peft import LoraConfig, get_peft_model

    return get_peft_model(base_model, LoraConfig(**settings))


def fits_lora_settings(settings: dict) -> bool:
    """LORA_SETTINGS, or a soup of k such fits: rank 8k at the same scale (alpha / rank)."""
    r, alpha = settings.get("r", 0), settings.get("lora_alpha", 0)
    same_rest = {k: v for k, v in settings.items() if k not in ("r", "lora_alpha")} == {
        k: v for k, v in LORA_SETTINGS.items() if k not in ("r", "lora_alpha")}
    return (same_rest and r > 0 and r % LORA_SETTINGS["r"] == 0
            and alpha * LORA_SETTINGS["r"] == LORA_SETTINGS["lora_alpha"] * r)


@dataclass
class CrisisModel:
    """What the training script stores: LoRA deltas, the head, and the decision settings."""

    classes: tuple[str, ...] = field(metadata={"help": "Corpus group of each head output."})
    lora_state: dict = field(metadata={"help": "PEFT LoRA tensors of the encoder."})
    head_weight: np.ndarray = field(metadata={"help": "[classes, 384] head weights (applied to LOGIT_SCALE x embedding)."})
    head_bias: np.ndarray = field(metadata={"help": "[classes] head biases."})
    threshold: float = field(metadata={"help": "Crisis probability from which a message is a crisis."})
    report: dict = field(default_factory=dict, metadata={"help": "Training facts (items, cross-validated rates)."})
    lora_settings: dict = field(default_factory=lambda: dict(LORA_SETTINGS),
                                metadata={"help": "PEFT LoRA settings of the deltas (a soup has a wider rank)."})

    @property
    def crisis_mask(self) -> np.ndarray:
        return np.array([GROUPS[c][0] is not None for c in self.classes])

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = (LOGIT_SCALE * embeddings) @ self.head_weight.T + self.head_bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: Path = MODEL_FILE) -> None:
        import torch
        from safetensors.torch import save_file

        tensors = {"lora." + k: v.detach().contiguous().to(torch.float32) for k, v in self.lora_state.items()}
        tensors["head.weight"] = torch.from_numpy(np.ascontiguousarray(self.head_weight, dtype=np.float32))
        tensors["head.bias"] = torch.from_numpy(np.ascontiguousarray(self.head_bias, dtype=np.float32))
        meta = {"classes": json.dumps(list(self.classes)), "threshold": str(self.threshold),
                "encoder_weights_sha256": WEIGHTS_SHA256,
                "lora": json.dumps(self.lora_settings), "report": json.dumps(self.report)}
        save_file(tensors, str(path), metadata=meta)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "CrisisModel":
        from safetensors import safe_open

        if not Path(path).is_file():
            raise EncoderUnavailable(f"{Path(path).name} is missing; train it with scripts/train_crisis_head.py")
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        settings = json.loads(meta.get("lora", "{}"))
        if meta.get("encoder_weights_sha256") != WEIGHTS_SHA256 or not fits_lora_settings(settings):
            raise EncoderUnavailable(f"{Path(path).name} was trained for another encoder or LoRA setting; retrain it")
        classes = tuple(json.loads(meta["classes"]))
        unknown = [c for c in classes if c not in GROUPS]
        if unknown:
            raise EncoderUnavailable(f"{Path(path).name} has unknown classes {unknown}")
        lora = {k[len("lora."):]: v for k, v in tensors.items() if k.startswith("lora.")}
        return cls(classes, lora, tensors["head.weight"].numpy(), tensors["head.bias"].numpy(),
                   float(meta["threshold"]), json.loads(meta.get("report", "{}")), settings)

    def merged_encoder(self, base=None, tokenizer=None) -> SentenceEncoder:
        """The pinned encoder (or the given base, which is consumed) with this model's LoRA
        deltas merged in: no adapter cost at run time."""
        from peft import set_peft_model_state_dict

        if base is None:
            base, tokenizer = load_base_encoder()
        peft_model = lora_encoder(base, self.lora_settings)
        result = set_peft_model_state_dict(peft_model, self.lora_state)
        if getattr(result, "unexpected_keys", None):
            raise EncoderUnavailable(f"{MODEL_FILE.name} does not fit the encoder: {result.unexpected_keys[:3]}")
        return SentenceEncoder(peft_model.merge_and_unload(), tokenizer)


@dataclass(frozen=True)
class SemanticScore:
    crisis_probability: float = field(metadata={"help": "Summed probability of the crisis groups."})
    group: str = field(metadata={"help": "Most likely crisis group."})
    top_group: str = field(metadata={"help": "Most likely group overall (a hard negative when no crisis)."})


class SemanticCrisisDetector:
    """Scores user turns with the tuned encoder and the head. Thread-safe."""

    def __init__(self, model: CrisisModel | None = None):
        self.model = model or CrisisModel.load()
        self.encoder = self.model.merged_encoder()
        move_to_onnx_runtime(self.encoder)  # same decisions, a third to a half of the time on CPU
        self._crisis = self.model.crisis_mask

    def scores(self, texts: list[str]) -> list[SemanticScore]:
        probs = self.model.probabilities(self.encoder.encode([embed_text(t) for t in texts]))
        classes = self.model.classes
        out = []
        for row in probs:
            crisis_row = np.where(self._crisis, row, -1.0)
            out.append(SemanticScore(float(row[self._crisis].sum()), classes[int(crisis_row.argmax())],
                                     classes[int(row.argmax())]))
        return out

    def assess_turns(self, user_texts: list[str], threshold: float | None = None) -> CrisisAssessment:
        """The latest user message alone and, with earlier turns, as one window: the higher score.
        ``threshold``: the decision threshold (None: the one stored with the model)."""
        if not user_texts:
            return NO_CRISIS
        scored = list(zip(self.scores(scored_texts(user_texts)), ("semantic", "semantic.turns")))
        best, how = max(scored, key=lambda pair: pair[0].crisis_probability)
        if best.crisis_probability < (self.model.threshold if threshold is None else threshold):
            return NO_CRISIS
        category, level = GROUPS[best.group]
        return CrisisAssessment(level=level, categories=(category,), score=best.crisis_probability,
                                matched_rules=(f"{how}.{best.group}",))


_SHARED: SemanticCrisisDetector | None = None
_SHARED_ERROR: str | None = None
_SHARED_LOCK = threading.Lock()


def shared_semantic_detector() -> tuple[SemanticCrisisDetector | None, str | None]:
    """(detector, None), or (None, why not) when the encoder package or model file is missing.
    Loaded once per process: about a second, and every safety layer shares it."""
    global _SHARED, _SHARED_ERROR
    with _SHARED_LOCK:
        if _SHARED is None and _SHARED_ERROR is None:
            try:
                _SHARED = SemanticCrisisDetector()
            except (EncoderUnavailable, ImportError) as exc:
                _SHARED_ERROR = str(exc)
        return _SHARED, _SHARED_ERROR
