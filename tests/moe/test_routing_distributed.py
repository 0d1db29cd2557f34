"""Routing recipes on two CPU processes (gloo) equal one process with the same global batch:
the aux-free bias is moved from the load of all processes, and the sharded router still works."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO_ROOT
from runtime_helpers import write_dataset, write_tiny_base

pytestmark = pytest.mark.slow
RECIPE = dict(expert_init="compensated", balancing="aux_free", aux_free_bias_rate=0.05, load_balancing_warmup_steps=2,
              dense_routing_steps=1)


def train(tmp_path, out, ga, nproc=None, **extra):
    cfg = dict(base_model=str(tmp_path / "base"), dataset=str(tmp_path / "data.json"), output_dir=str(out),
               max_steps=4, per_device_train_batch_size=1, gradient_accumulation_steps=ga, max_seq_length=1024,
               lora_r=4, lora_alpha=8, lora_dropout=0.0, expert_r=4, expert_alpha=8, report_to="none",
               shared_expert=False, shared_expert_r=0,  # the structure these draws balance unevenly with
               learning_rate=1e-2, warmup_steps=1, logging_steps=1, eval_steps=100, save_steps=0,
               validation_split=0.2, packing=False, dataloader_num_workers=0) | RECIPE | extra
    path = tmp_path / f"cfg-{out.name}.json"
    path.write_text(json.dumps(cfg))
    safety = tmp_path / "safety.json"
    safety.write_text(json.dumps({"pii_scrubbing": True}))
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc else [sys.executable]
    proc = subprocess.run(launcher + [str(REPO_ROOT / "train_moe_h100.py"), "--config", str(path), "--safety_config",
                                      str(safety)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "training_report.json").read_text())
    return [r["train/loss"] for r in report["history"] if "train/loss" in r], torch.load(out / "moe_layers.pt",
                                                                                      weights_only=True)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_match_one_process_with_aux_free_balancing(tmp_path, strategy):
    write_tiny_base(tmp_path / "base")
    write_dataset(tmp_path / "data.json")
    l1, m1 = train(tmp_path, tmp_path / "one", ga=4)
    l2, m2 = train(tmp_path, tmp_path / "two", ga=2, nproc=2, distributed_strategy=strategy)
    assert l1 == pytest.approx(l2, rel=1e-4, abs=1e-5)
    for layer in (0, 1):
        bias = f"layers.{layer}.router.selection_bias"
        assert torch.equal(m1[bias], m2[bias]) and float(m1[bias].abs().sum()) > 0
        assert float(m2[f"layers.{layer}.router.routing_steps"]) == 4
