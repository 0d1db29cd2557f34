"""The DataLoader over the planner's micro-batches: same batches as inline collation, workers
really collate, pinned memory and prefetch are passed on, resume restarts at the data position."""

from __future__ import annotations

import os
from functools import partial
from types import SimpleNamespace

import torch

from therapeutic_moe.data.collate import collate
from therapeutic_moe.data.loader import EpochBatches, LoaderSettings, micro_batch_loader
from therapeutic_moe.data.packing import plan_epoch


def examples(n: int = 60):
    gen = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        length = int(torch.randint(3, 17, (1,), generator=gen))
        ids = torch.randint(0, 100, (length,), generator=gen).tolist()
        out.append(SimpleNamespace(input_ids=ids, labels=ids, domain=i % 4, conv_id=f"c{i}", window=0))
    return out


def plan_for(exs, epoch: int):
    return plan_epoch([len(e.input_ids) for e in exs], seed=3, epoch=epoch, batch_size=2, max_seq_length=32,
                      packing=True)


def inline(exs, plan):
    return [collate([[exs[i] for i in row] for row in mb], pad_token_id=0, packing=True) for mb in plan]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def with_pid(rows, **kwargs):
    batch = collate(rows, **kwargs)
    batch["collated_in"] = torch.tensor(os.getpid())
    return batch


def test_loader_gives_the_inline_batches_with_and_without_workers():
    exs = examples()
    plan = plan_for(exs, 0)
    expected = inline(exs, plan)
    for workers in (0, 2):
        loader = micro_batch_loader(exs, plan, start=0, pad_token_id=0, packing=True,
                                    settings=LoaderSettings(num_workers=workers))
        got = list(loader)
        assert len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected))


def test_workers_collate_in_other_processes():
    exs = examples()
    plan = plan_for(exs, 0)
    pids = {}
    for workers in (0, 2):
        loader = micro_batch_loader(exs, plan, start=0, pad_token_id=0, packing=True,
                                    settings=LoaderSettings(num_workers=workers),
                                    collate_fn=partial(with_pid, pad_token_id=0, packing=True))
        pids[workers] = {int(b["collated_in"]) for b in loader}
    assert pids[0] == {os.getpid()}
    assert os.getpid() not in pids[2] and len(pids[2]) == 2


def test_pin_memory_and_prefetch_reach_the_dataloader(monkeypatch):
    exs = examples()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # pinning is only asked for with a GPU
    loader = micro_batch_loader(exs, plan_for(exs, 0), start=0, pad_token_id=0, packing=True,
                                settings=LoaderSettings(num_workers=2, pin_memory=True, prefetch_factor=5))
    assert loader.pin_memory and loader.prefetch_factor == 5 and loader.num_workers == 2
    off = micro_batch_loader(exs, plan_for(exs, 0), start=0, pad_token_id=0, packing=True,
                             settings=LoaderSettings(num_workers=0, pin_memory=False))
    assert not off.pin_memory and off.num_workers == 0


def test_resume_at_a_data_position_gives_the_same_batches():
    exs = examples()
    plan = plan_for(exs, 1)
    expected = inline(exs, plan)
    assert len(plan) > 8
    running = EpochBatches(exs, partial(plan_for, exs), pad_token_id=0, packing=True,
                           settings=LoaderSettings(num_workers=2))
    first, second = running.take(1, 0, 3), running.take(1, 3, 3)
    resumed = EpochBatches(exs, partial(plan_for, exs), pad_token_id=0, packing=True,
                           settings=LoaderSettings(num_workers=1))
    again = resumed.take(1, 3, 3)
    assert len(first + second) == 6 and all(same(g, e) for g, e in zip(first + second, expected[:6]))
    assert len(again) == 3 and all(same(g, e) for g, e in zip(again, expected[3:6]))
    tail = running.take(1, 6, 100)  # the short last window
    assert len(tail) == len(plan) - 6 and same(tail[-1], expected[-1])
    other_epoch = running.take(0, 0, 1)[0]
    assert same(other_epoch, inline(exs, plan_for(exs, 0))[0])
    running.close()
    resumed.close()


def test_iterating_leaves_the_global_random_stream_alone():
    """A resumed run starts its loader at another step than the straight run: if starting a
    loader drew from the global generator, the dropout masks after a resume would differ."""
    exs = examples()
    before = torch.random.get_rng_state()
    for workers in (0, 1):
        list(micro_batch_loader(exs, plan_for(exs, 0), start=2, pad_token_id=0, packing=True,
                                settings=LoaderSettings(num_workers=workers)))
    assert torch.equal(before, torch.random.get_rng_state())
