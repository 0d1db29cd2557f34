"""The training run, top to bottom: config → model → data → steps → checkpoints → export.

Read it like nanoGPT's train.py: one flow, small helpers beside it. The HF Trainer is not
used because this loop must (1) halt on NaN/inf *before* the optimizer step, (2) publish
checkpoints atomically with a verified manifest, (3) carry a time budget across resumes,
and (4) add router losses with exact gradient-accumulation normalisation; each of these
needs overriding Trainer internals that change between transformers releases.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from therapeutic_moe.errors import TrainingHalted, UserError
from therapeutic_moe.evaluation.scoring import BatchLayout, score_examples
from therapeutic_moe.modeling import build_model, report_trainable
from therapeutic_moe.modeling.saving import read_moe_weights, save_model_files, save_trained
from therapeutic_moe.moe import RoutingStats, balance as moe_balance
from therapeutic_moe.moe.losses import domain_class_weights
from therapeutic_moe.data.chat_render import IGNORE_INDEX
from therapeutic_moe.data.collate import collate
from therapeutic_moe.data.packing import packing_efficiency, plan_epoch
from therapeutic_moe.training.checkpoint import prune_checkpoints, resolve_resume, write_checkpoint
from therapeutic_moe.training.distributed import (
    Dist,
    full_optimizer_state,
    full_tensors,
    init_distributed,
    is_sharded,
    load_full_optimizer_state,
    no_sync,
    shutdown,
    whole,
    wrap_for_training,
)
from therapeutic_moe.training.hardware import pick_hardware
from therapeutic_moe.training.signals import GracefulStop
from therapeutic_moe.training.state import TrainState


def say(text: str) -> None:
    print(text, flush=True)


# --- checkpoint contents -------------------------------------------------------------------

def rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"python": list(random.getstate()[1]), "python_pos": random.getstate()[2],
             "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)), "numpy_pos": int(np_state[2]),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate((3, tuple(state["python"]), state["python_pos"]))
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rng_file(rank: int) -> str:
    return "rng_state.pt" if rank == 0 else f"rng_state_rank{rank}.pt"


def save_checkpoint(output_dir, model, optimizer, scheduler, state: TrainState, run_config_dict: dict,
                    rng_states: list[dict], full: dict | None = None, optimizer_state: dict | None = None) -> Path:
    """``full``/``optimizer_state``: the gathered whole tensors and name-keyed optimizer state of a
    sharded (FSDP) run; otherwise read from the model and optimizer directly."""
    def write(tmp: Path) -> None:
        save_model_files(model, tmp, full)
        torch.save(optimizer.state_dict() if optimizer_state is None else optimizer_state, tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        for rank, rng in enumerate(rng_states):  # every rank's generators: dropout must replay exactly
            torch.save(rng, tmp / rng_file(rank))
        state.save(tmp)
        (tmp / "run_config.json").write_text(json.dumps(run_config_dict, indent=1, default=str))

    return write_checkpoint(output_dir, state.global_step, write)


def check_same_model(path: Path, model) -> None:
    """A checkpoint only fits a model built with the same LoRA/expert shapes; say which differ."""
    from therapeutic_moe.modeling.saving import read_meta

    saved = read_meta(path)
    lora = model.peft_model.peft_config["default"]
    now = {"use_moe": model.moe_config is not None, "lora_r": lora.r,
           "lora_target_modules": sorted(lora.target_modules)}
    then = {"use_moe": saved.get("use_moe", True), "lora_r": saved.get("lora", {}).get("r"),
            "lora_target_modules": sorted(saved.get("lora", {}).get("target_modules", []))}
    if model.moe_config is not None and then["use_moe"]:
        now |= {"expert_domains": model.moe_config.expert_domains, "expert_r": model.moe_config.expert_r}
        then |= {"expert_domains": saved.get("expert_domains"), "expert_r": saved.get("expert_r")}
    diff = [f"{k}: checkpoint {then[k]!r}, now {now[k]!r}" for k in now if then.get(k) != now[k]]
    if diff:
        raise UserError(f"{path} was trained with other model settings ({'; '.join(diff)}). Resume with the "
                        f"settings in {path / 'run_config.json'}, or train into a new output_dir")


def param_groups(model, params: list, cfg) -> list[dict]:
    """One group, or two when the routers get their own learning rate (router_lr_multiplier)."""
    if model.moe_config is None or cfg.router_lr_multiplier == 1.0:
        return [{"params": params}]
    routers = {id(p) for layer in model.moe_layers for p in layer.router.parameters()}
    return [{"params": [p for p in params if id(p) not in routers]},
            {"params": [p for p in params if id(p) in routers], "lr": cfg.learning_rate * cfg.router_lr_multiplier}]


def load_weights(path: Path, model) -> None:
    """Adapter and expert weights of a checkpoint, into the plain (not yet sharded) model."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    check_same_model(path, model)
    adapter = load_file(str(path / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(model.peft_model, adapter)
    if getattr(result, "unexpected_keys", None):
        raise UserError(f"{path}: adapter weights do not fit this model ({result.unexpected_keys[:3]}…)")
    if model.moe_config is not None:
        model.load_moe_state_dict(read_moe_weights(path / "moe_layers.pt"))


def load_training_state(path: Path, wrapped, optimizer, scheduler, rank: int = 0) -> TrainState:
    """Optimizer, scheduler, this rank's RNG and the loop state (after wrapping: FSDP replaces
    the parameters the optimizer holds)."""
    saved = torch.load(path / "optimizer.pt", weights_only=True)
    by_name = any(isinstance(k, str) for k in saved.get("state", {})) or any(
        isinstance(p, str) for g in saved.get("param_groups", []) for p in g.get("params", []))
    if is_sharded(wrapped) and not by_name:
        raise UserError(f"{path} was saved by a ddp or one-process run, whose optimizer state an fsdp run "
                        "cannot take; resume it with distributed_strategy ddp (any number of processes)")
    try:
        if by_name:
            load_full_optimizer_state(wrapped, optimizer, saved)
        else:
            optimizer.load_state_dict(saved)
    except (ValueError, KeyError) as exc:  # parameter groups differ: the routers got their own group or lost it
        raise UserError(f"{path / 'optimizer.pt'}: the optimizer state does not fit ({exc}); resume with the "
                        "router_lr_multiplier the run started with (1 = one parameter group)") from None
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    own = path / rng_file(rank)
    set_rng_state(torch.load(own if own.is_file() else path / rng_file(0), weights_only=True))
    return TrainState.load(path)


def export_atomically(model, tokenizer, out_dir: Path, full: dict | None = None,
                      model_files_from: Path | None = None) -> None:
    """Write the export into a temporary folder, then move each file into place, the
    moe_config.json last: a crash never leaves the weights of two different steps side by side
    (it leaves the previous export, or this one without its final moe_config.json).

    ``model_files_from``: copy the weights from this checkpoint instead of the model (how the best
    checkpoint is exported); ``full``: whole tensors of a sharded model."""
    import shutil

    from therapeutic_moe.modeling.saving import ADAPTER_FILES, MOE_CONFIG, MOE_WEIGHTS

    tmp = out_dir / ".export.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if model_files_from is None:
        save_trained(model, tokenizer, tmp, full)
    else:
        tmp.mkdir(parents=True)
        for name in [*ADAPTER_FILES, MOE_WEIGHTS, MOE_CONFIG, "README.md"]:  # what save_model_files wrote
            if (model_files_from / name).is_file():
                shutil.copyfile(model_files_from / name, tmp / name)
        tokenizer.save_pretrained(tmp)
    names = sorted(p.name for p in tmp.iterdir() if p.name != "moe_config.json") + ["moe_config.json"]
    for name in names:
        os.replace(tmp / name, out_dir / name)
    shutil.rmtree(tmp, ignore_errors=True)


# --- evaluation ----------------------------------------------------------------------------

def evaluate(model, examples, hw, cfg, pad_id: int, packing: bool, forward=None) -> dict:
    """Validation loss on therapist tokens, plus routing statistics and domain accuracy, through
    the one evaluation routine (``forward``: the wrapped model under FSDP)."""
    if not examples:
        return {}
    stats = RoutingStats(len(model.moe_layers), model.moe_config.num_experts) if model.context is not None else None
    layout = BatchLayout(batch_size=cfg.per_device_eval_batch_size, max_seq_length=cfg.max_seq_length, packing=packing)
    scores = score_examples(model, examples, layout, pad_id=pad_id, device=hw.device, autocast=hw.autocast,
                            forward=forward, stats=stats)
    val_loss = float(scores.loss_sum / scores.n_tokens.clamp(min=1))
    metrics = {"val/loss": val_loss, "val/perplexity": math.exp(min(val_loss, 50)), "val/tokens": int(scores.n_tokens)}
    summary = stats.summary() if stats is not None else {}
    for key in ("domain_accuracy", "domain_vote_accuracy"):
        if key in summary:
            metrics[f"val/{key}"] = summary[key]
    if summary:
        metrics["val/routing_entropy"] = summary["routing_entropy"]
    return metrics | {"_routing": summary}


def routing_metrics(summary: dict, domains: list[str], prefix: str = "moe") -> dict:
    if not summary:
        return {}
    out = {f"{prefix}/routing_entropy": summary["routing_entropy"], f"{prefix}/token_entropy": summary["token_entropy"],
           f"{prefix}/dead_experts": summary["dead_experts"]}
    for e, name in enumerate(domains):
        out[f"{prefix}/usage/{name}"] = summary["usage_overall"][e]
        for layer, row in enumerate(summary["usage_per_layer"]):
            out[f"{prefix}/usage/layer_{layer:02d}/{name}"] = row[e]
    for key in ("domain_accuracy", "domain_vote_accuracy", "routing_nmi"):
        if key in summary:
            out[f"{prefix}/{key}"] = summary[key]
    return out


def fingerprint(examples) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(len(e.input_ids).to_bytes(4, "little"))
        h.update(bytes(str(e.input_ids[:8]), "ascii"))
    return h.hexdigest()[:16]


# --- the run -------------------------------------------------------------------------------

def train(run) -> int:
    """Run training for a RunConfig; returns the process exit code."""
    d = init_distributed()
    try:
        return _train(run, d)
    finally:
        shutdown(d)


def _train(run, d: Dist) -> int:
    from therapeutic_moe.config import config_to_dict, save_run_config
    from therapeutic_moe.data import prepare_datasets
    from therapeutic_moe.training.monitoring import NullLogger, make_logger
    from therapeutic_moe.training.plots import plot_expert_usage_heatmap, plot_training_curves
    from therapeutic_moe.training.progress import TrainingProgress, format_duration

    started = time.monotonic()
    cfg, safety = run.train, run.safety
    out_dir = Path(cfg.output_dir)
    echo = say if d.is_main else (lambda text: None)
    run_dict = {"train": config_to_dict(cfg), "wandb": config_to_dict(run.wandb), "safety": config_to_dict(safety)}
    resume_from = resolve_resume(cfg.resume_from_checkpoint, out_dir)
    if cfg.resume_from_checkpoint == "latest" and resume_from is None:
        echo(f"No complete checkpoint in {out_dir} yet: starting a fresh run.")

    # 1. hardware and model
    torch.manual_seed(cfg.seed + d.rank)
    random.seed(cfg.seed + d.rank)
    np.random.seed(cfg.seed + d.rank)
    hw = pick_hardware(cfg)
    if d.enabled and hw.device.type == "cuda":
        hw.device = torch.device("cuda", d.local_rank)
    echo(hw.description + (f" | {d.world_size} processes ({cfg.distributed_strategy.upper()})" if d.enabled else ""))
    model, tokenizer = build_model(cfg, device=hw.device, dtype=hw.base_dtype,
                                   gradient_checkpointing=hw.gradient_checkpointing)
    if hw.device.type == "cuda" and cfg.use_liger_kernel is not False:
        from therapeutic_moe.kernels import apply_fast_kernels

        applied = apply_fast_kernels(model)  # Liger RMSNorm/RoPE/fused CE when installed, fused MoE MLP, varlen attention
        echo(f"Fast paths: {', '.join(applied) if applied else 'none available (pip install liger-kernel)'}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        counts = report_trainable(model)
    echo(f"Model: {cfg.base_model} | trainable {counts['trainable']:,} of {counts['total']:,} parameters "
         f"({counts['trainable_share']:.2%}): attention LoRA {counts['attention_lora']:,}, "
         f"experts {counts['experts']:,}, routers {counts['routers']:,}")
    for w in caught:
        echo(f"warning: {w.message}")
    if model.moe_config is not None:
        echo(f"Experts: {model.moe_config.num_experts} ({', '.join(model.moe_config.expert_domains)}), "
             f"top-{model.moe_config.top_k}, rank {model.moe_config.expert_r}, in {len(model.moe_layers)} layers")
    else:
        echo("Experts: off (use_moe=false): attention LoRA only")

    # 2. data
    data = prepare_datasets(cfg, safety, tokenizer)
    train_ex, val_ex = data.train, data.val
    if not train_ex:
        raise UserError("no training examples left after preparation; see `therapeutic-moe data check`")
    if model.context is not None and cfg.domain_routing_class_balance:
        model.context.domain_class_weights = domain_class_weights(
            [e.domain for e in train_ex], model.moe_config.num_experts, hw.device)
    packing = cfg.packing in (True, "auto", "true")
    lengths = [len(e.input_ids) for e in train_ex]
    plan0 = plan_epoch(lengths, seed=cfg.seed, epoch=0, batch_size=cfg.per_device_train_batch_size,
                       max_seq_length=cfg.max_seq_length, packing=packing)
    window_size = cfg.gradient_accumulation_steps * d.world_size  # micro-batches per optimizer step
    steps_per_epoch = math.ceil(len(plan0) / window_size)
    total_steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(steps_per_epoch * cfg.num_train_epochs)
    echo(f"Data: {len(train_ex)} training / {len(val_ex)} validation examples, "
         f"{sum(lengths):,} training tokens, {'packed' if packing else 'padded'} into {len(plan0)} micro-batches "
         f"per epoch (fill {packing_efficiency(lengths, plan0, cfg.max_seq_length):.0%}); "
         f"{steps_per_epoch} optimizer steps per epoch, {total_steps} in total")

    # 3. resume the weights (into the plain model, before any wrapping), then wrap: DDP
    # replicates, FSDP shards (and replaces the parameters, so the optimizer comes after it)
    if resume_from is not None:
        load_weights(resume_from, model)
    wrapped = wrap_for_training(model, d, hw.device, cfg.distributed_strategy)
    sharded = is_sharded(wrapped)

    # 4. optimizer and schedule
    from transformers import get_scheduler

    params = [p for p in wrapped.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(param_groups(model, params, cfg), lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2),
                                  eps=cfg.adam_epsilon, weight_decay=cfg.weight_decay,
                                  fused=hw.optim == "adamw_torch_fused")
    warmup = cfg.warmup_steps if cfg.warmup_steps > 0 else math.ceil(cfg.warmup_ratio * total_steps)
    if warmup >= total_steps:
        echo(f"warning: warmup_steps={warmup} >= total steps {total_steps}: the learning rate never reaches "
             f"{cfg.learning_rate}; lower warmup_steps or set warmup_ratio")
    scheduler = get_scheduler(cfg.lr_scheduler_type, optimizer, num_warmup_steps=warmup,
                              num_training_steps=total_steps)

    # 5. resume the rest
    state = TrainState(data_fingerprint=fingerprint(train_ex), window_size=window_size)
    if resume_from is not None:
        saved = load_training_state(resume_from, wrapped, optimizer, scheduler, rank=d.rank)
        if saved.window_size not in (None, window_size):
            raise UserError(
                f"{resume_from} was trained with {saved.window_size} micro-batches per optimizer step "
                f"(gradient_accumulation_steps × processes); now {window_size}. Keep the global batch: set "
                f"gradient_accumulation_steps so that it × {d.world_size} processes = {saved.window_size}")
        if saved.data_fingerprint != state.data_fingerprint:
            echo("warning: the training data differs from the checkpoint's; batch order will not match")
        state = saved
        state.resumes += 1
        state.stop_reason = None
        echo(f"Resumed from {resume_from}: step {state.global_step}, epoch {state.epoch}, "
             f"{format_duration(state.elapsed_seconds)} of the {format_duration(cfg.max_hours * 3600)} budget "
             "already used")
    elapsed_at_start = state.elapsed_seconds - (time.monotonic() - started)  # setup counts too

    def elapsed() -> float:
        return elapsed_at_start + (time.monotonic() - started)

    if d.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        logger = make_logger(cfg.report_to, run.wandb, out_dir, run_dict, state.wandb_run_id)
    else:
        logger = NullLogger()
    state.wandb_run_id = logger.run_id or state.wandb_run_id
    logger.log_summary({"model/trainable_params": counts["trainable"], "model/total_params": counts["total"]})
    progress = TrainingProgress(total_steps, cfg.max_hours, initial_step=state.global_step,
                                initial_elapsed_s=state.elapsed_seconds, enabled=d.is_main)
    budget_s = cfg.max_hours * 3600
    save_seconds, step_seconds = 0.0, 0.0
    last_ckpt_time = time.monotonic()
    stats = RoutingStats(len(model.moe_layers), model.moe_config.num_experts) if model.context else None
    if stats is not None:
        model.context.stats = stats
    domains = model.moe_config.expert_domains if model.moe_config else []
    eval_every = cfg.eval_steps or steps_per_epoch
    pad_id = tokenizer.pad_token_id
    forward = wrapped if sharded else None  # FSDP: evaluation goes through the root too

    def new_interval() -> dict:
        # Device tensors accumulate here; they reach the host only at logging time.
        z = lambda: torch.zeros((), device=hw.device)  # noqa: E731
        return {"loss": z(), "lm_sum": z(), "lb": z(), "z": z(), "dom": z(), "grad_norm": z(),
                "tokens": 0, "all_tokens": 0, "steps": 0, "has_dom": False, "t0": time.monotonic()}

    interval = new_interval()
    evals_by_step: dict[int, dict] = {}  # this process's evaluations, so export need not repeat one

    def checkpoint(reason: str) -> Path:
        nonlocal save_seconds, last_ckpt_time
        t = time.monotonic()
        state.elapsed_seconds = elapsed()
        rngs = d.gather_objects(rng_state())  # every rank takes part
        # FSDP: every rank joins the gathers; rank 0 then writes whole tensors
        full = full_tensors(model) if sharded else None
        optim_state = full_optimizer_state(wrapped, optimizer) if sharded else None
        path = out_dir / f"checkpoint-{state.global_step}"
        if d.is_main:
            try:
                path = save_checkpoint(out_dir, model, optimizer, scheduler, state, run_dict, rngs, full, optim_state)
            except OSError as exc:  # e.g. ENOSPC: the .tmp directory is never published, nothing is lost
                raise UserError(
                    f"could not write {path} ({exc.strerror or exc}: {exc.filename or path}); earlier checkpoints "
                    f"are intact. Free space in {out_dir} and resume with --resume_from_checkpoint latest") from None
            # Derived from the step, never a stored path: the output directory may have moved.
            protect = {out_dir / f"checkpoint-{state.best_step}"} if state.best_step is not None else set()
            prune_checkpoints(out_dir, cfg.save_total_limit, protect)
        d.barrier()  # nobody goes on (or exits) before the checkpoint is published
        save_seconds = max(save_seconds, time.monotonic() - t)
        last_ckpt_time = time.monotonic()
        progress.note(f"Checkpoint at {format_duration(state.elapsed_seconds)} ({reason}): {path}")
        return path

    def margin() -> float:
        # Room to finish a step, save, and export before the budget ends.
        return max(safety.time_limit_margin_minutes * 60, 2 * save_seconds + 2 * step_seconds)

    # 5. the loop
    with GracefulStop() as stop:
        model.train()
        while state.global_step < total_steps and state.stop_reason is None:
            plan = plan_epoch(lengths, seed=cfg.seed, epoch=state.epoch, batch_size=cfg.per_device_train_batch_size,
                              max_seq_length=cfg.max_seq_length, packing=packing)
            if state.micro_batch >= len(plan):
                state.epoch, state.micro_batch = state.epoch + 1, 0
                continue
            step_start = time.monotonic()
            window = plan[state.micro_batch:state.micro_batch + window_size]
            batches = [collate([[train_ex[i] for i in row] for row in mb], pad_token_id=pad_id, packing=packing)
                       for mb in window]
            # Counted on the CPU tensors before they move: no device sync. Every rank sees the
            # whole window, so the normaliser is global without communication.
            n_trained = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
            n_real = sum(int((b["sample_ids"] >= 0).sum()) for b in batches)
            mine = batches[d.rank::d.world_size]
            weight = 1.0
            if not mine:  # short last window: take part in the all-reduce with a zero-weight pass
                mine, weight = batches[:1], 0.0
            dom_w = None
            if model.moe_config is not None and cfg.domain_routing_anneal_steps > 0:
                dom_w = model.moe_config.domain_routing_weight * max(
                    0.0, 1 - state.global_step / cfg.domain_routing_anneal_steps)
            step_lm = torch.zeros((), device=hw.device)
            for k, batch in enumerate(mine):
                batch = {key: v.to(hw.device, non_blocking=hw.pin_memory) for key, v in batch.items()}
                with no_sync(wrapped, last_micro_batch=k == len(mine) - 1), hw.autocast():
                    # DDP averages gradients over ranks; the scales make that equal a one-process
                    # sum over the window.
                    out = wrapped(batch, lm_denominator=max(n_trained, 1) / d.world_size, domain_weight=dom_w,
                                  aux_scale=d.world_size / len(window))
                    (out["loss"] * weight).backward()
                step_lm += out["lm_loss_sum"] * weight
                interval["loss"] += out["loss"].detach() * weight
                for key, short in (("load_balancing_loss", "lb"), ("router_z_loss", "z"), ("domain_routing_loss", "dom")):
                    if key in out:
                        interval[short] += out[key] * weight / len(window)
                interval["has_dom"] |= "domain_routing_loss" in out
            grad_norm = whole(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
            # One host sync per optimizer step (one all-reduce when distributed): never apply a
            # step built from NaN/inf, and let every rank take the same stop/save decisions.
            periodic_due = time.monotonic() - last_ckpt_time >= cfg.checkpoint_minutes * 60
            over_budget = elapsed() + margin() >= budget_s
            control = torch.stack([(~torch.isfinite(step_lm)).float(), (~torch.isfinite(grad_norm)).float(),
                                   torch.tensor(float(stop.requested), device=hw.device),
                                   torch.tensor(float(over_budget), device=hw.device),
                                   torch.tensor(float(periodic_due), device=hw.device)])
            bad_loss, bad_grad, signalled, over_budget, periodic_due = (
                bool(x) for x in d.all_reduce_(control, op=torch.distributed.ReduceOp.MAX if d.enabled else None).tolist())
            if bad_loss or bad_grad:
                ids = sorted({train_ex[i].conv_id for mb in window for row in mb for i in row})
                optimizer.zero_grad(set_to_none=True)
                raise TrainingHalted(
                    f"non-finite {'loss' if bad_loss else 'gradient norm'} at step "
                    f"{state.global_step + 1} (epoch {state.epoch}, micro-batches {state.micro_batch}-"
                    f"{state.micro_batch + len(window) - 1}; conversations {', '.join(ids[:10])}); halted before "
                    "the optimizer step, nothing saved from it. Lower learning_rate or check these samples.",
                    exit_code=3)
            optimizer.step()
            moe_balance.after_optimizer_step(model)  # aux-free bias, routing warm-up counters
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.global_step += 1
            state.micro_batch += len(window)
            state.tokens_seen += n_real
            interval["lm_sum"] += step_lm
            interval["grad_norm"] += grad_norm.detach()
            interval["tokens"] += n_trained
            interval["all_tokens"] += n_real
            interval["steps"] += 1
            took = time.monotonic() - step_start
            step_seconds = 0.9 * step_seconds + 0.1 * took if step_seconds else took
            if state.micro_batch >= len(plan):
                state.epoch, state.micro_batch = state.epoch + 1, 0

            # logging
            if state.global_step % cfg.logging_steps == 0 or state.global_step == total_steps:
                n = interval["steps"]
                dt = max(time.monotonic() - interval["t0"], 1e-9)
                sums = d.all_reduce_(torch.stack([interval[k] for k in ("loss", "lm_sum", "lb", "z", "dom")]))
                loss_sum, lm_sum, lb, zl, dom = sums.tolist()
                metrics = {
                    "train/loss": loss_sum / n / d.world_size,  # each rank scaled its share by world_size
                    "train/lm_loss": lm_sum / max(interval["tokens"], 1),
                    "train/learning_rate": scheduler.get_last_lr()[0],
                    "train/grad_norm": float(interval["grad_norm"]) / n,
                    "train/tokens_per_second": interval["all_tokens"] / dt,
                    "train/epoch": state.epoch + state.micro_batch / max(len(plan), 1),
                    "time/elapsed_hours": elapsed() / 3600,
                    "time/remaining_hours": max(0.0, budget_s - elapsed()) / 3600,
                }
                if model.moe_config is not None:
                    metrics |= {"train/load_balancing_loss": lb / n, "train/router_z_loss": zl / n}
                    if interval["has_dom"]:
                        metrics["train/domain_routing_loss"] = dom / n
                    if d.enabled:
                        for t in (stats.assign_counts, stats.entropy_sum, stats.tokens, stats.confusion, stats.vote_confusion):
                            if t is not None:
                                d.all_reduce_(t)
                    metrics |= routing_metrics(stats.summary(), domains)
                    stats.reset()
                if hw.device.type == "cuda":
                    metrics["gpu/memory_allocated_gb"] = torch.cuda.max_memory_allocated() / 2**30
                logger.log(metrics, step=state.global_step)
                state.history.append({"step": state.global_step} | {
                    k: v for k, v in metrics.items() if not k.startswith("moe/usage/layer_")})
                progress.update(state.global_step, metrics, elapsed())
                interval = new_interval()

            # evaluation, best model, early stopping (every rank evaluates the same data: same result)
            saved_now = False
            if val_ex and (state.global_step % eval_every == 0 or state.global_step == total_steps):
                if model.context is not None:
                    model.context.stats = None
                ev = evaluate(model, val_ex, hw, cfg, pad_id, packing, forward)
                evals_by_step[state.global_step] = dict(ev)
                if model.context is not None:
                    model.context.stats = stats
                routing = ev.pop("_routing", {})
                logger.log(ev | routing_metrics(routing, domains, prefix="val_moe"), step=state.global_step)
                state.history.append({"step": state.global_step} | ev)
                improved = state.best_metric is None or ev["val/loss"] < state.best_metric - cfg.early_stopping_threshold
                progress.note(f"Eval at step {state.global_step}: val loss {ev['val/loss']:.4f} "
                              f"(ppl {ev['val/perplexity']:.2f})" + (" — best so far" if improved else ""))
                if improved:
                    state.best_metric, state.best_step = ev["val/loss"], state.global_step
                    state.evals_without_improvement = 0
                    checkpoint("best validation loss")
                    saved_now = True
                else:
                    state.evals_without_improvement += 1
                    if 0 < cfg.early_stopping_patience <= state.evals_without_improvement:
                        state.stop_reason = "early_stopping"

            # time budget, signals, periodic checkpoints (decided together above)
            if state.stop_reason is None and over_budget and state.global_step < total_steps:
                state.stop_reason = "time_budget"
            if signalled:
                state.stop_reason = f"signal_{stop.signal_name or 'SIGTERM'}"
            periodic = periodic_due or (cfg.save_steps > 0 and state.global_step % cfg.save_steps == 0)
            if not saved_now and (periodic or state.stop_reason in ("time_budget", "signal_SIGTERM", "signal_SIGINT")):
                checkpoint(state.stop_reason or "periodic")

        if state.stop_reason is None:
            state.stop_reason = "completed"
    progress.close()

    # 6. export (rank 0)
    state.elapsed_seconds = elapsed()
    if state.stop_reason.startswith("signal_"):
        name = state.stop_reason.removeprefix("signal_")
        exit_code = 128 + getattr(signal, name).value
        echo(f"Stopped by {name} at step {state.global_step}: checkpoint saved in {out_dir}; "
             f"resume with --resume_from_checkpoint latest")
        logger.finish(exit_code=exit_code)
        return exit_code
    best = out_dir / f"checkpoint-{state.best_step}"
    use_best = state.best_step is not None and state.best_step != state.global_step and best.is_dir()
    exported_step = state.best_step if use_best else state.global_step
    if sharded:  # collectives first, on every rank; rank 0 then works alone
        if val_ex and exported_step not in evals_by_step:
            evals_by_step[exported_step] = evaluate(model, val_ex, hw, cfg, pad_id, packing, forward)
    full = full_tensors(model) if sharded and not use_best else None
    if not d.is_main:
        return 0
    if use_best:  # its checkpoint holds the whole weights, written by the same save_model_files
        exported = f"best checkpoint (step {state.best_step}, val loss {state.best_metric:.4f})"
        export_atomically(model, tokenizer, out_dir, model_files_from=best)
    else:
        exported = f"final weights (step {state.global_step})"
        export_atomically(model, tokenizer, out_dir, full)
    save_run_config(run, out_dir / "run_config")
    plots, final_eval, final_routing = [], {}, {}
    if val_ex:
        final_eval = evals_by_step.get(exported_step) or evaluate(model, val_ex, hw, cfg, pad_id, packing)
        final_routing = final_eval.pop("_routing", {})
    if final_routing:
        plots.append(plot_expert_usage_heatmap(np.array(final_routing["usage_per_layer"]), domains,
                                               out_dir / "expert_usage.png",
                                               title="Expert usage per layer (validation)"))
    plots.append(plot_training_curves(state.history, out_dir / "training_curves.png"))
    for p in plots:
        logger.log_image(Path(p).stem, p, step=state.global_step)
    report = {
        "stop_reason": state.stop_reason, "global_step": state.global_step, "total_steps": total_steps,
        "epochs_completed": state.epoch, "elapsed_hours": state.elapsed_seconds / 3600, "resumes": state.resumes,
        "exported": exported, "best_val_loss": state.best_metric, "best_step": state.best_step,
        "final_eval": final_eval, "routing": final_routing, "parameters": counts,
        "data": data.report.to_dict() if hasattr(data.report, "to_dict") else None,
        "seconds_per_step": step_seconds, "hardware": hw.description, "world_size": d.world_size, "wandb_run_id": logger.run_id,
        "wandb_run_dir": str(logger.run_dir) if logger.run_dir else None,
        "history": state.history,
    }
    (out_dir / "training_report.json").write_text(json.dumps(report, indent=1, default=str))
    logger.log_summary({"stop_reason": state.stop_reason, **final_eval})
    logger.finish(exit_code=0)
    why = {"completed": "all steps done", "early_stopping": f"early stopping (no improvement in "
           f"{cfg.early_stopping_patience} evaluations)", "time_budget": f"time budget of "
           f"{format_duration(budget_s)} nearly used (resume with --resume_from_checkpoint latest to continue)"}[state.stop_reason]
    say(f"Stopped: {why}. Exported {exported} to {out_dir}/: adapter_config.json, adapter_model.safetensors"
        f"{', moe_layers.pt' if model.moe_config else ''}, moe_config.json, tokenizer, training_report.json, "
        f"{', '.join(Path(p).name for p in plots)}")
    return 0
