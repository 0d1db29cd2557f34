"""Held-out conversations -> tokenized examples, exactly as training prepared its data.

The data pipeline (``therapeutic_moe.data``) does the work: same transcript parsing, same
system prompt, same PII scrubbing, same windowing and labels (therapist turns only), so the
numbers are comparable with the trainer's validation loss. The speaker labels, system prompt
and topic map come from the configs saved with the model; flags override them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

WHOLE_CONVERSATION = 10**9  # a window budget no conversation reaches: one example per conversation


@dataclass
class EvalData:
    """Tokenized held-out data."""

    examples: list = field(metadata={"help": "Windows of at most max_seq_length tokens (as in training)."})
    whole: list = field(metadata={"help": "One example per conversation, untruncated (long-context test)."})
    conversations: int = field(default=0, metadata={"help": "Conversations read from the file."})
    labelled: int = field(default=0, metadata={"help": "Conversations with a domain label."})
    drops: dict = field(default_factory=dict, metadata={"help": "Windows still left out, by reason."})
    long_turns_split: int = field(default=0, metadata={
        "help": "Assistant turns too long for one window, scored in several windows with preceding context."})

    def coverage_line(self) -> str:
        """One line saying what was scored and what, if anything, was left out."""
        left_out = sum(self.drops.values())
        line = f"scored {len(self.examples)} windows from {self.conversations} conversations"
        if self.long_turns_split:
            line += f"; {self.long_turns_split} long turns scored in several windows with preceding context"
        if left_out:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.drops.items()) if v)
            return line + f"; LEFT OUT {left_out} windows ({reasons})"
        return line + "; nothing left out"


def load_eval_data(path: str | Path, tokenizer, expert_domains: list[str], *, model_dir: str | Path | None = None,
                   max_seq_length: int | None = None, topic_to_domain: str | None = None,
                   safety_config: str | Path | None = None) -> EvalData:
    from therapeutic_moe.data.domains import domain_index, resolve_topic_map
    from therapeutic_moe.data.examples import BuildStats, conversation_examples
    from therapeutic_moe.data.formats import load_conversations
    from therapeutic_moe.data.pii import make_scrubber
    from therapeutic_moe.data.settings import settings_from_config_file
    from therapeutic_moe.data.transcript import Speakers
    from therapeutic_moe.errors import DataError
    from therapeutic_moe.inference.model_settings import (
        TRAIN_CONFIG_FILE,
        load_safety_config,
        saved_config_path,
        saved_system_prompt,
    )

    saved = saved_config_path(model_dir, TRAIN_CONFIG_FILE) if model_dir is not None else None
    cfg = settings_from_config_file(saved, dataset=str(path), max_seq_length=max_seq_length,
                                    topic_to_domain=topic_to_domain)
    system_prompt = saved_system_prompt(model_dir) if model_dir is not None else cfg.system_prompt
    safety = load_safety_config(safety_config, model_dir)
    scrub_on = getattr(safety, "pii_scrubbing", True)
    kinds = getattr(safety, "pii_kinds", None)
    scrubber = make_scrubber(scrub_on, kinds)
    speakers = Speakers(tuple(cfg.assistant_speakers), tuple(cfg.user_speakers))
    topic_map = resolve_topic_map(cfg.topic_to_domain, expert_domains)
    conversations = load_conversations(path, speakers)
    if not conversations:
        raise DataError(f"{path}: no conversations to evaluate")
    stats, whole_stats = BuildStats(), BuildStats()
    examples, whole, labelled = [], [], 0
    for conv in conversations:
        domain = domain_index(conv, topic_map, expert_domains)
        labelled += domain >= 0
        if scrubber is not None:
            conv = scrubber.scrub_conversation(conv)
        # Held-out data is never dropped for length: long turns are scored in several windows.
        examples += conversation_examples(conv, tokenizer, max_seq_length=cfg.max_seq_length,
                                          system_prompt=system_prompt, domain=domain, stats=stats,
                                          split_long_turns=True)
        whole += conversation_examples(conv, tokenizer, max_seq_length=WHOLE_CONVERSATION,
                                       system_prompt=system_prompt, domain=domain, stats=whole_stats)
    if not examples:
        raise DataError(f"{path}: none of the {len(conversations)} conversations gave an example with therapist "
                        f"tokens (drops: {dict(stats.drops)}); check assistant_speakers / the file format")
    return EvalData(examples, whole, len(conversations), labelled, {k: v for k, v in stats.drops.items() if v},
                    stats.long_turns_split)
