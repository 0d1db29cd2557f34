"""Exports equal the MoE model: logits of each exported model (loaded with stock PEFT or plain
transformers) against the MoE model under the same fixed routing, on a tiny random model."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import make_tiny_tokenizer, tiny_cfg, tiny_llama
from therapeutic_moe.cli import main
from therapeutic_moe.export.fixed_routing import fixed_routing
from therapeutic_moe.modeling import save_trained, wrap_model

DOMAINS = ["psychology", "mental_health", "bias_detection", "general_therapeutic"]
ATOL = 2e-5


def save_random_moe(tmp, seed: int = 0, **cfg):
    """A tiny MoE model saved to tmp/model (its base in tmp/base) whose LoRA and expert B matrices
    are non-zero (B starts at 0)."""
    base = tiny_llama()
    base.save_pretrained(tmp / "base")
    model = wrap_model(base, tiny_cfg(lora_r=4, expert_r=2, **cfg), str(tmp / "base"))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or "expert_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    model.eval()
    save_trained(model, make_tiny_tokenizer(), tmp / "model")
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    model = save_random_moe(tmp)
    (tmp / "model" / "training_report.json").write_text(json.dumps(
        {"routing": {"usage_per_layer": [[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]]}}))
    return model, tmp


def ids():
    return torch.randint(3, 99, (2, 12), generator=torch.Generator().manual_seed(1))


def moe_logits(model, gates):
    with torch.no_grad(), fixed_routing(model, gates):
        return model(input_ids=ids()).logits


def peft_logits(base_dir, adapter_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    with torch.no_grad():
        return PeftModel.from_pretrained(base, str(adapter_dir)).eval()(input_ids=ids()).logits


def plain_logits(model_dir):
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()(input_ids=ids()).logits


def test_domain_adapters_equal_moe_with_that_expert_at_gate_one(trained, capsys):
    model, tmp = trained
    assert main(["export", str(tmp / "model"), "--format", "domain-adapters", "-o", str(tmp / "dom")]) == 0
    for index, domain in enumerate(DOMAINS):
        gates = [[1.0 if e == index else 0.0 for e in range(4)]] * 2
        config = json.loads((tmp / "dom" / domain / "adapter_config.json").read_text())
        assert config["r"] == 8 and config["lora_alpha"] == 8 and not config.get("rank_pattern")
        assert {"gate_proj", "up_proj", "down_proj", "q_proj"} <= set(config["target_modules"])
        got = peft_logits(tmp / "base", tmp / "dom" / domain)
        torch.testing.assert_close(got, moe_logits(model, gates), atol=ATOL, rtol=0)
    # Experts differ, so the adapters must too (a test that cannot fail proves nothing).
    a, b = (peft_logits(tmp / "base", tmp / "dom" / d) for d in DOMAINS[:2])
    assert (a - b).abs().max() > 1e-3


@pytest.mark.parametrize("spec,merge", [("average", False), ("0.5,0,0.25,0.25", True), ("uniform", False)])
def test_fixed_gate_equals_moe_under_that_gate(trained, spec, merge):
    model, tmp = trained
    out = tmp / f"fixed-{spec}-{merge}"
    argv = ["export", str(tmp / "model"), "--format", "fixed-gate", "--gate", spec, "-o", str(out)]
    assert main(argv + (["--merge"] if merge else [])) == 0
    gates = {"average": [[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]], "uniform": [[0.25] * 4] * 2,
             "0.5,0,0.25,0.25": [[0.5, 0, 0.25, 0.25]] * 2}[spec]
    got = plain_logits(out) if merge else peft_logits(tmp / "base", out)
    torch.testing.assert_close(got, moe_logits(model, gates), atol=ATOL, rtol=0)
    # ... and differs from the model without experts.
    model.context.bypass_experts = True
    try:
        no_experts = model(input_ids=ids()).logits.detach()
    finally:
        model.context.bypass_experts = False
    assert (got - no_experts).abs().max() > 1e-3


def test_merged_equals_attention_lora_without_experts_and_says_so(trained, capsys):
    model, tmp = trained
    assert main(["export", str(tmp / "model"), "--format", "merged", "-o", str(tmp / "merged")]) == 0
    assert "NOT in this model" in capsys.readouterr().err
    model.context.bypass_experts = True
    try:
        with torch.no_grad():
            expected = model(input_ids=ids()).logits
    finally:
        model.context.bypass_experts = False
    torch.testing.assert_close(plain_logits(tmp / "merged"), expected, atol=ATOL, rtol=0)
    info = json.loads((tmp / "merged" / "export_info.json").read_text())
    assert info["experts"] == "dropped" and info["system_prompt"]  # the package default prompt here
    assert (tmp / "merged" / "tokenizer.json").is_file()


@pytest.mark.parametrize("gate,needle", [("0.5,0.5", "expected 4 gate values"), ("0,0,0,0", "every gate is 0"),
                                         ("calm", "use uniform, average"), ("-1,0,0,1", "must be a finite number")])
def test_bad_gate_is_one_clear_error(trained, capsys, gate, needle):
    _, tmp = trained
    argv = ["export", str(tmp / "model"), "--format", "fixed-gate", f"--gate={gate}", "-o", str(tmp / "bad")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_existing_output_and_missing_model_are_refused(trained, tmp_path, capsys):
    _, tmp = trained
    (tmp_path / "taken").mkdir()
    assert main(["export", str(tmp / "model"), "--format", "merged", "-o", str(tmp_path / "taken")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope"), "--format", "merged"]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_a_model_without_experts_exports_merged_but_refuses_expert_formats(tmp_path, capsys):
    base = tiny_llama()
    base.save_pretrained(tmp_path / "base")
    model = wrap_model(base, tiny_cfg(use_moe=False), str(tmp_path / "base"))
    save_trained(model.eval(), make_tiny_tokenizer(), tmp_path / "plain")
    for fmt in ("domain-adapters", "fixed-gate"):
        assert main(["export", str(tmp_path / "plain"), "--format", fmt]) == 2
        assert "trained without experts" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "plain"), "--format", "merged", "--dtype", "bfloat16"]) == 0
    assert "NOT in this model" not in capsys.readouterr().err
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "plain-merged")
    assert next(merged.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("variant", [dict(shared_expert=True, shared_expert_r=4, expert_init="compensated"),
                                     dict(expert_structure="shared_a", shared_expert=True, shared_expert_r=0),
                                     dict(shared_expert=False, shared_expert_r=0)])
def test_fixed_gate_export_keeps_the_shared_expert_shared_a_and_compensation(tmp_path, variant):
    """The always-on expert (gate 1), a shared A and the compensated init's frozen term are in the export."""
    model = save_random_moe(tmp_path, seed=3, **variant)
    out = tmp_path / "fixed"
    assert main(["export", str(tmp_path / "model"), "--format", "fixed-gate", "--gate", "0.5,0,0.25,0.25", "-o", str(out)]) == 0
    torch.testing.assert_close(peft_logits(tmp_path / "base", out), moe_logits(model, [[0.5, 0, 0.25, 0.25]] * 2),
                               atol=ATOL, rtol=0)
