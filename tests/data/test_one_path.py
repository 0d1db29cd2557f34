"""One batch path, one loss path, one source of names: the pieces training, evaluation and
`data check` share really are shared."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import torch

from conftest import tiny_cfg, tiny_llama
from therapeutic_moe.data.collate import collate
from therapeutic_moe.data.packing import packing_efficiency, plan_epoch
from therapeutic_moe.modeling import wrap_model


def example(seed, n, domain=-1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 99, (n,), generator=g).tolist()
    return SimpleNamespace(input_ids=ids, labels=[-100] * (n // 3) + ids[n // 3:], domain=domain, conv_id=f"c{seed}")


def test_per_sample_reduction_sums_to_the_training_loss_and_matches_each_sample_alone():
    model = wrap_model(tiny_llama(), tiny_cfg(), "tiny").eval()
    exs = [example(1, 20, 0), example(2, 13, 2), example(3, 27, -1)]
    with torch.no_grad():
        packed = model.forward_loss(collate([exs[:2], exs[2:]], pad_token_id=0, packing=True), per_sample=True)
        plain = model.forward_loss(collate([exs[:2], exs[2:]], pad_token_id=0, packing=True))
        alone = [model.forward_loss(collate([[e]], pad_token_id=0, packing=False)) for e in exs]
    assert torch.equal(packed["lm_loss_sum"], plain["lm_loss_sum"])  # same loss with or without the reduction
    torch.testing.assert_close(packed["sample_loss_sum"].sum().float(), packed["lm_loss_sum"], rtol=1e-5, atol=1e-5)
    for s, out in enumerate(alone):
        assert int(packed["sample_tokens"][s]) == int(out["n_tokens"])
        torch.testing.assert_close(packed["sample_loss_sum"][s].float(), out["lm_loss_sum"], rtol=1e-4, atol=1e-4)


def test_score_examples_is_the_training_loss_over_the_unshuffled_plan():
    from therapeutic_moe.evaluation.scoring import BatchLayout, score_examples

    model = wrap_model(tiny_llama(), tiny_cfg(), "tiny")
    exs = [example(k, 10 + 7 * k, k % 4) for k in range(6)]
    layout = BatchLayout(batch_size=2, max_seq_length=64, packing=True)
    scores = score_examples(model, exs, layout, pad_id=0, per_sample=True)
    assert model.training  # put back as found
    plan = plan_epoch([len(e.input_ids) for e in exs], seed=0, epoch=0, batch_size=2, max_seq_length=64,
                      packing=True, shuffle=False)
    model.eval()
    with torch.no_grad():
        outs = [model.forward_loss(collate([[exs[i] for i in row] for row in mb], pad_token_id=0, packing=True))
                for mb in plan]
    assert torch.equal(scores.loss_sum, sum((o["lm_loss_sum"] for o in outs), torch.zeros(())))
    assert int(scores.n_tokens) == sum(int(o["n_tokens"]) for o in outs)
    assert [s.index for s in scores.per_sample] == list(range(6))
    assert sum(s.n_tokens for s in scores.per_sample) == int(scores.n_tokens)


def test_data_check_reports_the_fill_of_the_plan_training_uses(tiny_tokenizer):
    from therapeutic_moe.data import bundled_sample_path
    from therapeutic_moe.data.check import check_dataset
    from therapeutic_moe.data.settings import DataSettings

    settings = DataSettings(max_seq_length=512, per_device_train_batch_size=3)
    report, _ = check_dataset(bundled_sample_path(), settings, tiny_tokenizer)
    plan = plan_epoch(report.example_tokens, seed=settings.seed, epoch=0, batch_size=3, max_seq_length=512,
                      packing=True)
    assert report.packed_batches == len(plan.rows) and report.packing_max_tokens == 512
    assert report.packing_efficiency == packing_efficiency(report.example_tokens, plan, 512)
    assert report.padding_batch_size == 3


def test_data_settings_are_the_train_and_safety_configs_own_fields():
    from therapeutic_moe.config.safety_config import SafetyConfig
    from therapeutic_moe.config.train_config import TrainConfig
    from therapeutic_moe.data.settings import SAFETY_KEYS, TRAIN_KEYS, DataSettings

    train, safety, data = TrainConfig(), SafetyConfig(), DataSettings()
    own = {f.name: f for f in dataclasses.fields(DataSettings)}
    for name in TRAIN_KEYS:
        if name not in ("topic_to_domain", "system_prompt"):  # wider here (a map name or path; None)
            assert getattr(data, name) == getattr(train, name), name
            assert own[name].metadata["help"] == TrainConfig.__dataclass_fields__[name].metadata["help"]
    for name in SAFETY_KEYS:
        assert getattr(data, name) == getattr(safety, name), name
    from_configs = DataSettings.from_configs(TrainConfig(max_seq_length=512, seed=7), SafetyConfig(pii_scrubbing=False))
    assert (from_configs.max_seq_length, from_configs.seed, from_configs.pii_scrubbing) == (512, 7, False)


def test_one_expert_domain_list():
    from therapeutic_moe.config.train_config import DEFAULT_EXPERT_DOMAINS
    from therapeutic_moe.moe import SEED_DOMAINS

    assert SEED_DOMAINS is DEFAULT_EXPERT_DOMAINS


def test_schedule_numbers_are_derived_once():
    from therapeutic_moe.training.schedule import Schedule

    cfg = SimpleNamespace(gradient_accumulation_steps=4, max_steps=-1, num_train_epochs=2.5, warmup_steps=0,
                          warmup_ratio=0.1, eval_steps=None)
    s = Schedule.derive(cfg, micro_batches_per_epoch=21, world_size=2)
    assert (s.window_size, s.steps_per_epoch, s.total_steps, s.warmup_steps, s.eval_every) == (8, 3, 8, 1, 3)


def test_trainer_builds_each_epoch_plan_once(tmp_path, monkeypatch):
    import therapeutic_moe.training.loop as loop
    from runtime_helpers import run_config

    calls = []
    original = loop.plan_epoch

    def counting(*args, **kwargs):
        calls.append(kwargs["epoch"])
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "plan_epoch", counting)
    monkeypatch.chdir(tmp_path)
    assert loop.train(run_config(tmp_path, max_steps=12, eval_steps=100)) == 0  # 11 micro-batches, 2 per step
    assert calls == sorted(set(calls)) and len(calls) >= 3  # several epochs, each planned once
