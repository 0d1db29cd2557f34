"""Two CPU processes (gloo) equal one process with the same global batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from runtime_helpers import write_dataset, write_tiny_base

pytestmark = pytest.mark.slow


def config(tmp_path, out, ga, **extra):
    cfg = dict(base_model=str(tmp_path / "base"), dataset=str(tmp_path / "data.json"), output_dir=str(out),
               max_steps=6, per_device_train_batch_size=1, gradient_accumulation_steps=ga, max_seq_length=1024,
               lora_r=4, lora_alpha=8, lora_dropout=0.0, expert_r=4, expert_alpha=8, report_to="none",
               learning_rate=1e-2, warmup_steps=1, logging_steps=1, eval_steps=3, save_steps=3,
               validation_split=0.2, packing=False, dataloader_num_workers=0) | extra
    path = tmp_path / f"cfg-{out.name}.json"
    path.write_text(json.dumps(cfg))
    return path


def run(args, tmp_path, nproc=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    safety = tmp_path / "safety.json"
    safety.write_text(json.dumps({"pii_scrubbing": True}))
    if nproc:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               str(REPO_ROOT / "train_moe_h100.py")]
    else:
        cmd = [sys.executable, str(REPO_ROOT / "train_moe_h100.py")]
    proc = subprocess.run(cmd + args + ["--safety_config", str(safety)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def losses(out):
    rep = json.loads((out / "training_report.json").read_text())
    return [(r["step"], r["train/loss"]) for r in rep["history"] if "train/loss" in r], rep


def one_vs_two_processes(tmp_path, one, two, strategy):
    """1 process × accumulation 4 and 2 processes × accumulation 2: the same losses step by step."""
    write_tiny_base(tmp_path / "base")
    write_dataset(tmp_path / "data.json")
    run(["--config", str(config(tmp_path, one, ga=4))], tmp_path)
    text = run(["--config", str(config(tmp_path, two, ga=2, distributed_strategy=strategy))], tmp_path, nproc=2)
    assert f"2 processes ({strategy.upper()})" in text
    l1, rep1 = losses(one)
    l2, rep2 = losses(two)
    assert [s for s, _ in l1] == [s for s, _ in l2]
    for (_, a), (_, b) in zip(l1, l2):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    assert rep1["final_eval"]["val/loss"] == pytest.approx(rep2["final_eval"]["val/loss"], rel=1e-4)
    return l2, rep2


def test_two_processes_match_one_process_and_resume(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    l2, rep2 = one_vs_two_processes(tmp_path, one, two, "ddp")
    assert rep2["world_size"] == 2
    # resume the 2-process run from its step-3 checkpoint, on 2 processes: same losses again
    resumed = tmp_path / "resumed"
    shutil.copytree(two / "checkpoint-3", resumed / "checkpoint-3")
    run(["--config", str(config(tmp_path, resumed, ga=2)), "--resume_from_checkpoint", "latest"], tmp_path, nproc=2)
    l3, _ = losses(resumed)
    tail2 = [x for s, x in l2 if s > 3]
    tail3 = [x for s, x in l3 if s > 3]
    assert tail3 == pytest.approx(tail2, rel=1e-6)


def test_resume_with_a_different_global_batch_is_a_clear_error(tmp_path):
    write_tiny_base(tmp_path / "base")
    write_dataset(tmp_path / "data.json")
    out = tmp_path / "one"
    run(["--config", str(config(tmp_path, out, ga=2, max_steps=3))], tmp_path)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "train_moe_h100.py"), "--config",
                           str(config(tmp_path, out, ga=3, max_steps=6)), "--resume_from_checkpoint", "latest",
                           "--safety_config", str(tmp_path / "safety.json")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "micro-batches per optimizer step" in proc.stderr and "Traceback" not in proc.stderr


def test_fsdp_two_processes_match_one_process_and_resume_anywhere(tmp_path):
    """FSDP2 (fully_shard) on 2 gloo processes: same losses as 1 process with the same global
    batch; its checkpoint resumes on 2 processes (fsdp) and on 1 process; export loads."""
    one, two = tmp_path / "one", tmp_path / "fsdp"
    l2, _ = one_vs_two_processes(tmp_path, one, two, "fsdp")
    # the export and the checkpoints hold whole tensors: the same shapes as the one-process run's
    import torch
    from safetensors.torch import load_file

    a, b = load_file(str(one / "adapter_model.safetensors")), load_file(str(two / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-4)
    ma = torch.load(one / "moe_layers.pt", weights_only=True)
    mb = torch.load(two / "moe_layers.pt", weights_only=True)
    assert ma.keys() == mb.keys() and all(ma[k].shape == mb[k].shape for k in ma)
    # resume from step 3 on 2 processes (fsdp) and on 1 process: the same later losses
    tail2 = [x for s, x in l2 if s > 3]
    for name, nproc, ga, strategy in (("fsdp2", 2, 2, "fsdp"), ("single", None, 4, "ddp")):
        resumed = tmp_path / name
        shutil.copytree(two / "checkpoint-3", resumed / "checkpoint-3")
        run(["--config", str(config(tmp_path, resumed, ga=ga, distributed_strategy=strategy)),
             "--resume_from_checkpoint", "latest"], tmp_path, nproc=nproc)
        tail = [x for s, x in losses(resumed)[0] if s > 3]
        assert tail == pytest.approx(tail2, rel=1e-4, abs=1e-5), name
    # a one-process checkpoint's optimizer state is index-keyed: fsdp refuses it clearly
    refused = tmp_path / "refused"
    shutil.copytree(one / "checkpoint-3", refused / "checkpoint-3")
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(REPO_ROOT / "train_moe_h100.py"), "--config",
                           str(config(tmp_path, refused, ga=2, distributed_strategy="fsdp")),
                           "--resume_from_checkpoint", "latest", "--safety_config", str(tmp_path / "safety.json")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    # (torchrun itself prints a traceback of its own ChildFailedError; none comes from the trainer)
    assert "distributed_strategy ddp" in proc.stderr and "loop.py" not in proc.stderr
