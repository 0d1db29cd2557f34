"""Build, train a step, save, reload in a fresh process: identical logits and the exact file set."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import REPO_ROOT, make_tiny_tokenizer, tiny_cfg, tiny_llama
from therapeutic_moe.errors import ModelDirError
from therapeutic_moe.modeling import report_trainable, save_trained, wrap_model
from therapeutic_moe.modeling.saving import read_moe_weights

EXPECTED_FILES = {"adapter_config.json", "adapter_model.safetensors", "moe_layers.pt", "moe_config.json",
                  "tokenizer.json", "tokenizer_config.json"}


def batch(seed=0, B=2, T=16, vocab=99):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (B, T), generator=g)
    labels = ids.clone()
    labels[:, : T // 2] = -100
    return {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}


def trained_tiny(tmp_path, **cfg_overrides):
    base = tiny_llama()
    base_dir = tmp_path / "base"
    base.save_pretrained(base_dir)
    model = wrap_model(base, tiny_cfg(**cfg_overrides), str(base_dir))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for step in range(3):
        out = model.forward_loss(batch(step))
        out["loss"].backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    return model


def test_forward_loss_has_nonzero_differentiable_aux(tmp_path):
    model = wrap_model(tiny_llama(), tiny_cfg(), "tiny")
    b = batch()
    b["sample_ids"] = torch.zeros_like(b["input_ids"])
    b["sample_ids"][1] = 1
    b["sample_domains"] = torch.tensor([0, 2])
    out = model.forward_loss(b)
    assert out["load_balancing_loss"] > 0 and out["router_z_loss"] > 0 and out["domain_routing_loss"] > 0
    out["loss"].backward()
    router = model.moe_layers[0].router.weight
    assert router.grad is not None and router.grad.abs().sum() > 0
    assert len(model.moe_layers) == 2


def test_trainable_share_and_frozen_base():
    model = wrap_model(tiny_llama(), tiny_cfg(), "tiny")
    counts = report_trainable(model, warn=False)
    trainable_names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable_names and all(("lora_" in n) or ("router" in n) or ("expert_" in n) for n in trainable_names)
    assert counts["experts"] > 0 and counts["routers"] > 0 and counts["attention_lora"] > 0
    assert 0 < counts["trainable_share"] < 1


def test_gradient_checkpointing_collects_aux_once_and_matches(tmp_path):
    torch.manual_seed(0)
    plain = wrap_model(tiny_llama(), tiny_cfg(), "tiny")
    ckpt = wrap_model(tiny_llama(), tiny_cfg(), "tiny")
    ckpt.load_state_dict(plain.state_dict())
    ckpt.base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    plain.train(); ckpt.train()
    a, b = plain.forward_loss(batch()), ckpt.forward_loss(batch())
    a["loss"].backward(); b["loss"].backward()
    torch.testing.assert_close(a["loss"], b["loss"])
    ga = plain.moe_layers[1].router.weight.grad
    gb = ckpt.moe_layers[1].router.weight.grad
    torch.testing.assert_close(ga, gb)
    assert ckpt.context.aux == {}  # recomputation in backward did not re-collect


def test_save_load_fresh_process_identical_logits(tmp_path):
    model = trained_tiny(tmp_path)
    out_dir = tmp_path / "export"
    save_trained(model, make_tiny_tokenizer(), out_dir)
    files = {p.name for p in out_dir.iterdir()}
    assert EXPECTED_FILES <= files, files
    assert not {"model.safetensors", "pytorch_model.bin"} & files  # no full base weights in an adapter export
    ids = batch(7)["input_ids"]
    with torch.no_grad():
        expected = model(input_ids=ids).logits
    torch.save(ids, tmp_path / "ids.pt")
    script = textwrap.dedent(f"""
        import torch
        from therapeutic_moe.modeling import load_trained
        model, tok = load_trained({str(out_dir)!r})
        ids = torch.load({str(tmp_path / 'ids.pt')!r})
        with torch.no_grad():
            torch.save(model(input_ids=ids).logits, {str(tmp_path / 'logits.pt')!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO_ROOT)
    got = torch.load(tmp_path / "logits.pt")
    assert torch.equal(got, expected)


def test_moe_config_and_weights_only(tmp_path):
    model = trained_tiny(tmp_path, expert_domains=[f"d{i}" for i in range(8)])
    out_dir = tmp_path / "export"
    save_trained(model, make_tiny_tokenizer(), out_dir)
    meta = json.loads((out_dir / "moe_config.json").read_text())
    assert meta["num_experts"] == 8 and meta["top_k"] == 2 and meta["expert_r"] == 4
    assert meta["domain_to_expert"]["d3"] == 3
    assert {"torch", "transformers", "peft", "therapeutic_moe"} <= set(meta["versions"])
    state = torch.load(out_dir / "moe_layers.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert state["layers.0.router.weight"].shape == (8, 32)
    assert state["layers.1.experts.down_proj.expert_A"].shape == (64, 8 * 4)


def test_stock_peft_loads_attention_adapter(tmp_path):
    from peft import PeftModel

    model = trained_tiny(tmp_path)
    out_dir = tmp_path / "export"
    save_trained(model, make_tiny_tokenizer(), out_dir)
    base = tiny_llama()
    peft_only = PeftModel.from_pretrained(base, str(out_dir))
    ours = {n: p for n, p in model.peft_model.named_parameters() if "lora_" in n}
    theirs = {n: p for n, p in peft_only.named_parameters() if "lora_" in n}
    assert len(theirs) == len(ours) > 0
    for name, p in theirs.items():
        assert torch.equal(p, ours[name.replace(".mlp.", ".mlp.")])
    # trained LoRA weights are not the init (B would be all zero)
    assert any(p.abs().sum() > 0 for n, p in theirs.items() if "lora_B" in n)


def test_pickled_object_in_moe_layers_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "moe_layers.pt"
    torch.save({"layers.0.router.weight": Evil()}, path)
    with pytest.raises(ModelDirError, match="refused"):
        read_moe_weights(path)


def test_mismatched_expert_count_is_a_clear_error(tmp_path):
    model = trained_tiny(tmp_path)
    out_dir = tmp_path / "export"
    save_trained(model, make_tiny_tokenizer(), out_dir)
    meta = json.loads((out_dir / "moe_config.json").read_text())
    meta["expert_domains"] = meta["expert_domains"] + ["extra"]
    meta["num_experts"] = 5
    (out_dir / "moe_config.json").write_text(json.dumps(meta))
    from therapeutic_moe.modeling import load_trained

    with pytest.raises(ModelDirError, match="does not fit"):
        load_trained(out_dir)


def test_model_without_swiglu_mlp_gets_clear_error():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    with pytest.raises(ModelDirError, match="no Llama/Qwen/Mistral-style MLP"):
        wrap_model(gpt2, tiny_cfg(lora_target_modules=["c_attn"]), "gpt2-tiny")


def test_lora_target_that_matches_nothing_is_an_error():
    with pytest.raises(ModelDirError, match="match no module"):
        wrap_model(tiny_llama(), tiny_cfg(lora_target_modules=["q_proj", "query"]), "tiny")
