"""Write standard PEFT LoRA adapters: per domain, or for one fixed gate vector."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from therapeutic_moe.errors import UserError
from therapeutic_moe.export.lora_math import add_gated_experts, padded_state_dict, read_attention_lora, vllm_rank
from therapeutic_moe.export.source import TrainedSource, checked_mlp_paths

INFO_FILE = "export_info.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "vocab.json", "merges.txt", "tokenizer.model")


def copy_tokenizer(source_dir: Path, target: Path) -> None:
    for name in TOKENIZER_FILES:
        if (source_dir / name).is_file():
            shutil.copy2(source_dir / name, target / name)


def write_info(target: Path, source: TrainedSource, info: dict) -> None:
    """export_info.json: what was exported, from where, and the system prompt the model was
    trained with (no export bakes it in: a deployment sends it as the system message)."""
    from therapeutic_moe.inference.model_settings import saved_system_prompt

    info = {**info, "source": source.directory.name, "base_model": source.base_name,
            "system_prompt": saved_system_prompt(source.directory)}
    (target / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")


def write_adapter(source: TrainedSource, gates: list[list[float]] | None, target: Path, info: dict) -> int:
    """One PEFT LoRA adapter directory; ``gates`` None = attention LoRA only. Returns its rank."""
    from peft import LoraConfig
    from safetensors.torch import save_file

    folded = read_attention_lora(source.directory)
    if gates is not None:
        add_gated_experts(folded, source.moe_state, checked_mlp_paths(source), source.meta, gates)
    rank = vllm_rank(folded.rank)
    target.mkdir(parents=True, exist_ok=True)
    config = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                        target_modules=sorted(folded.target_modules))
    # What AutoPeftModel loads the base from; vLLM and the merge take the base explicitly.
    config.base_model_name_or_path = source.resolved_base
    config.save_pretrained(str(target))
    save_file(padded_state_dict(folded, rank), str(target / "adapter_model.safetensors"), metadata={"format": "pt"})
    copy_tokenizer(source.directory, target)
    write_info(target, source, {**info, "rank": rank})
    return rank


def require_experts(source: TrainedSource, fmt: str) -> None:
    if not source.use_moe:
        raise UserError(f"{source.directory}: trained without experts (use_moe false); --format {fmt} needs "
                        "experts. Use --format merged, or serve the adapter as it is")


def export_domain_adapters(source: TrainedSource, out_dir: Path) -> dict[str, Path]:
    """One adapter per domain: attention LoRA + that expert with gate 1 in every layer."""
    require_experts(source, "domain-adapters")
    num_layers = source.num_moe_layers
    written = {}
    for index, domain in enumerate(source.domains):
        gates = [[1.0 if e == index else 0.0 for e in range(len(source.domains))]] * num_layers
        target = out_dir / domain
        rank = write_adapter(source, gates, target, {"format": "domain-adapters", "domain": domain,
                                                    "expert": index, "gates": gates[0]})
        print(f"export: {target} (domain {domain}, expert {index}, LoRA rank {rank})", file=sys.stderr)
        written[domain] = target
    return written
