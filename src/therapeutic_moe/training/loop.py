"""The training run as one object: ``Trainer(run, dist).fit()`` reads top to bottom.

config → model → data → schedule → (resume) → steps → evaluation → checkpoints → export.
Read ``fit`` first; every name it calls is a method below it, in the order it is called.
The HF Trainer is not used because this loop must (1) halt on NaN/inf *before* the optimizer
step, (2) publish checkpoints atomically with a verified manifest, (3) carry a time budget
across resumes, and (4) add router losses with exact gradient-accumulation normalisation;
each of these needs overriding Trainer internals that change between transformers releases.

Where the rest lives: batches (``data.packing`` plans, ``data.loader`` collates through ``data.collate``), the loss
(``TherapeuticMoEModel.forward_loss``), validation (``training.metrics.evaluate`` over
``evaluation.scoring.score_examples``), derived numbers (``training.schedule.Schedule``),
checkpoint contents (``training.checkpoint``), the exported format (``modeling.saving``).
"""

from __future__ import annotations

import json
import random
import signal
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from therapeutic_moe.data.chat_render import IGNORE_INDEX
from therapeutic_moe.data.loader import EpochBatches, LoaderSettings
from therapeutic_moe.data.packing import Plan, packing_efficiency, plan_epoch
from therapeutic_moe.errors import TrainingHalted, UserError
from therapeutic_moe.modeling import build_model, compile as model_compile, report_trainable
from therapeutic_moe.modeling.build import set_gradient_checkpointing
from therapeutic_moe.modeling.saving import export_atomically
from therapeutic_moe.moe import RoutingStats, balance as moe_balance
from therapeutic_moe.moe.losses import domain_class_weights
from therapeutic_moe.training import checkpoint as ckpt
from therapeutic_moe.training.checkpoint_writer import CheckpointWriter
from therapeutic_moe.training.distributed import (
    Dist,
    full_optimizer_state,
    full_tensors,
    init_distributed,
    is_sharded,
    no_sync,
    shutdown,
    whole,
    wrap_for_training,
)
from therapeutic_moe.training.hardware import pick_hardware
from therapeutic_moe.training.metrics import Interval, evaluate, fingerprint, routing_metrics
from therapeutic_moe.training.schedule import Schedule, build_optimizer, build_scheduler
from therapeutic_moe.training.signals import GracefulStop
from therapeutic_moe.training.snapshot import as_full, model_tensors


def say(text: str) -> None:
    print(text, flush=True)


def train(run) -> int:
    """Run training for a RunConfig; returns the process exit code."""
    d = init_distributed()
    try:
        code = Trainer(run, d).fit()
        # Rank 0 exports alone after the last collective; the others wait for it here, because a
        # rank that tears the gloo group down while a peer still holds it can abort (SIGABRT).
        d.barrier()
        return code
    finally:
        shutdown(d)


@dataclass
class StepResult:
    """One optimizer step's window, before the agreed decision to apply it."""

    window: list = field(metadata={"help": "The step's micro-batches (rows of example indices)."})
    started: float = field(metadata={"help": "time.monotonic() when the step began."})
    lm_sum: torch.Tensor | None = field(default=None, metadata={"help": "This rank's summed LM loss (device)."})
    grad_norm: torch.Tensor | None = field(default=None, metadata={"help": "Gradient norm before clipping (device)."})
    trained_tokens: int = field(default=0, metadata={"help": "Targets in the whole window, all ranks."})
    real_tokens: int = field(default=0, metadata={"help": "Non-padding tokens in the whole window."})


@dataclass
class Control:
    """The decisions every rank takes together, from the one all-reduce of a step (any rank's True wins)."""

    bad_loss: bool = field(metadata={"help": "The window's LM loss is NaN/inf."})
    bad_grad: bool = field(metadata={"help": "The gradient norm is NaN/inf."})
    signalled: bool = field(metadata={"help": "SIGTERM/SIGINT arrived."})
    over_budget: bool = field(metadata={"help": "The time budget minus the safety margin is used."})
    periodic_due: bool = field(metadata={"help": "checkpoint_minutes have passed since the last save."})


class Trainer:
    """Setup in ``__init__`` and ``setup_*``; ``fit`` runs the loop; the rest are its steps."""

    def __init__(self, run, dist: Dist):
        from therapeutic_moe.config import config_to_dict

        self.started = time.monotonic()
        self.run, self.d = run, dist
        self.cfg, self.safety = run.train, run.safety
        self.out_dir = Path(self.cfg.output_dir)
        self.echo = say if dist.is_main else (lambda text: None)
        self.run_dict = {"train": config_to_dict(self.cfg), "wandb": config_to_dict(run.wandb),
                         "safety": config_to_dict(self.safety)}
        self.save_seconds = self.step_seconds = 0.0
        self.blocked_seconds: list[float] = []  # per checkpoint: how long the loop waited for it
        self.evals_by_step: dict[int, dict] = {}  # this process's evaluations, so export need not repeat one
        self._plan_cache: tuple[int, Plan] | None = None

    def fit(self) -> int:
        self.resume_from = ckpt.resolve_resume(self.cfg.resume_from_checkpoint, self.out_dir)
        if self.cfg.resume_from_checkpoint == "latest" and self.resume_from is None:
            self.echo(f"No complete checkpoint in {self.out_dir} yet: starting a fresh run.")
        self.setup_model()
        self.setup_data()
        self.setup_optimization()
        self.setup_state()
        self.setup_logging()
        state = self.state
        with GracefulStop() as stop, self.checkpoint_writes():
            self.model.train()
            while state.global_step < self.schedule.total_steps and state.stop_reason is None:
                window = self.next_window()
                if window is None:  # the epoch is used up: the next one has its own plan
                    continue
                step = self.train_step(window)
                control = self.agree(step, stop)
                if control.bad_loss or control.bad_grad:
                    self.halt(step, control)
                self.apply_step(step)
                if self.logging_due():
                    self.log_interval()
                if self.evaluation_due():
                    self.evaluate_and_stop_early()
                self.decide_stop(control, stop)
                if self.checkpoint_due(control):
                    self.checkpoint(state.stop_reason or "periodic")
            if state.stop_reason is None:
                state.stop_reason = "completed"
        self.progress.close()
        self.batches.close()
        return self.finish()

    # --- setup -----------------------------------------------------------------------------

    def setup_model(self) -> None:
        cfg, d = self.cfg, self.d
        torch.manual_seed(cfg.seed + d.rank)
        random.seed(cfg.seed + d.rank)
        np.random.seed(cfg.seed + d.rank)
        self.hw = hw = pick_hardware(cfg)
        if d.enabled and hw.device.type == "cuda":
            hw.device = torch.device("cuda", d.local_rank)
        self.echo(hw.description + (f" | {d.world_size} processes ({cfg.distributed_strategy.upper()})"
                                    if d.enabled else ""))
        self.model, self.tokenizer = build_model(cfg, device=hw.device, dtype=hw.base_dtype,
                                                 gradient_checkpointing=hw.gradient_checkpointing)
        if hw.device.type == "cuda" and cfg.use_liger_kernel is not False:
            from therapeutic_moe.kernels import apply_fast_kernels

            applied = apply_fast_kernels(self.model)  # Liger RMSNorm/RoPE/fused CE, fused MoE MLP, varlen attention
            self.echo(f"Fast paths: {', '.join(applied) if applied else 'none available (pip install liger-kernel)'}")
        if cfg.torch_compile:  # after the fast kernels, so the compiled blocks trace them
            blocks = model_compile.compile_decoder_blocks(self.model)
            self.echo(f"torch.compile: {blocks} decoder blocks (regional; the first steps compile)")
        self._describe_model()

    def _describe_model(self) -> None:
        model = self.model
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.counts = counts = report_trainable(model)
        self.echo(f"Model: {self.cfg.base_model} | trainable {counts['trainable']:,} of {counts['total']:,} parameters "
                  f"({counts['trainable_share']:.2%}): attention LoRA {counts['attention_lora']:,}, "
                  f"experts {counts['experts']:,}, routers {counts['routers']:,}")
        for w in caught:
            self.echo(f"warning: {w.message}")
        if model.moe_config is not None:
            self.echo(f"Experts: {model.moe_config.num_experts} ({', '.join(model.moe_config.expert_domains)}), "
                      f"top-{model.moe_config.top_k}, rank {model.moe_config.expert_r}, in {len(model.moe_layers)} "
                      "layers")
        else:
            self.echo("Experts: off (use_moe=false): attention LoRA only")

    def setup_data(self) -> None:
        from therapeutic_moe.data import prepare_datasets

        cfg, model = self.cfg, self.model
        self.data = prepare_datasets(cfg, self.safety, self.tokenizer)
        self.train_ex, self.val_ex = self.data.train, self.data.val
        if not self.train_ex:
            raise UserError("no training examples left after preparation; see `therapeutic-moe data check`")
        if model.context is not None and cfg.domain_routing_class_balance:
            model.context.domain_class_weights = domain_class_weights(
                [e.domain for e in self.train_ex], model.moe_config.num_experts, self.hw.device)
        self.packing = cfg.packing in (True, "auto", "true")
        self.lengths = [len(e.input_ids) for e in self.train_ex]
        if cfg.auto_find_batch_size:  # before the plan: it sets the micro-batch
            self.find_batch_size()
        plan0 = self.plan(0)
        self.batches = EpochBatches(self.train_ex, self.plan, pad_token_id=self.tokenizer.pad_token_id,
                                    packing=self.packing, settings=LoaderSettings(self.hw.num_workers,
                                                                                  self.hw.pin_memory))
        self.schedule = s = Schedule.derive(cfg, len(plan0), self.d.world_size)
        self.echo(f"Data: {len(self.train_ex)} training / {len(self.val_ex)} validation examples, "
                  f"{sum(self.lengths):,} training tokens, {'packed' if self.packing else 'padded'} into "
                  f"{len(plan0)} micro-batches per epoch (fill "
                  f"{packing_efficiency(self.lengths, plan0, cfg.max_seq_length):.0%}); "
                  f"{s.steps_per_epoch} optimizer steps per epoch, {s.total_steps} in total")

    def find_batch_size(self) -> None:
        """auto_find_batch_size: the largest micro-batch that fits, the global batch kept (every rank
        takes the smallest rank's choice)."""
        from therapeutic_moe.training.batch_size import find_batch_size

        cfg = self.cfg
        global_rows = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
        saved = self.saved_accumulation()
        if saved is not None and global_rows % saved == 0:  # a resume keeps the checkpoint's split exactly
            cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps = global_rows // saved, saved
            self.echo(f"auto_find_batch_size: resuming with the checkpoint's micro-batch {global_rows // saved} "
                      f"× {saved} accumulation steps")
            return
        choice = find_batch_size(cfg, self.model, self.hw.device, self.hw.autocast, self.model.config.vocab_size,
                                 auto_checkpointing=cfg.gradient_checkpointing == "auto")
        rows = torch.tensor(float(choice.micro_batch), device=self.hw.device)
        rows = int(self.d.all_reduce_(rows, op=torch.distributed.ReduceOp.MIN if self.d.enabled else None))
        cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps = rows, global_rows // rows
        if choice.checkpointing is not None:  # measured: replaces the start-up estimate's decision
            on = torch.tensor(float(choice.checkpointing), device=self.hw.device)  # on anywhere = on everywhere
            self.hw.gradient_checkpointing = bool(self.d.all_reduce_(
                on, op=torch.distributed.ReduceOp.MAX if self.d.enabled else None))
            set_gradient_checkpointing(self.model.base, self.hw.gradient_checkpointing)
        self.echo(choice.message)

    def saved_accumulation(self) -> int | None:
        """The accumulation steps per process of the checkpoint being resumed, if it says."""
        if self.resume_from is None:
            return None
        try:
            window = ckpt.TrainState.load(Path(self.resume_from)).window_size
        except (OSError, ValueError):
            return None  # the full load in setup_state reports a damaged checkpoint
        return window // self.d.world_size if window and window % self.d.world_size == 0 else None

    def plan(self, epoch: int) -> Plan:
        """The epoch's micro-batch plan, built once per epoch (a pure function of seed and epoch)."""
        if self._plan_cache is None or self._plan_cache[0] != epoch:
            cfg = self.cfg
            self._plan_cache = (epoch, plan_epoch(self.lengths, seed=cfg.seed, epoch=epoch,
                                                  batch_size=cfg.per_device_train_batch_size,
                                                  max_seq_length=cfg.max_seq_length, packing=self.packing))
        return self._plan_cache[1]

    def setup_optimization(self) -> None:
        """Resume the weights into the plain model, then wrap (DDP replicates, FSDP shards and replaces
        the parameters, so the optimizer comes after it), then the optimizer and schedule."""
        cfg, s = self.cfg, self.schedule
        self.best_tensors, self.has_best = None, False  # the best evaluation's weights (CPU, rank 0)
        if self.resume_from is not None:
            self.load_resumed_best()  # first: it may load another checkpoint's weights into the model
            ckpt.load_weights(self.resume_from, self.model)
        self.wrapped = wrap_for_training(self.model, self.d, self.hw.device, cfg.distributed_strategy)
        self.sharded = is_sharded(self.wrapped)
        self.forward = self.wrapped if self.sharded else None  # FSDP: evaluation goes through the root too
        self.optimizer, self.params = build_optimizer(self.model, self.wrapped, cfg,
                                                      fused=self.hw.optim == "adamw_torch_fused")
        if s.warmup_steps >= s.total_steps:
            self.echo(f"warning: warmup_steps={s.warmup_steps} >= total steps {s.total_steps}: the learning rate "
                      f"never reaches {cfg.learning_rate}; lower warmup_steps or set warmup_ratio")
        self.scheduler = build_scheduler(self.optimizer, cfg, s)

    def load_resumed_best(self) -> None:
        """The best evaluation's weights of the resumed run, back into memory: from the checkpoint
        itself, its best/ folder, or the best checkpoint beside it (older checkpoints). When none
        is there the best of before the resume cannot be exported; say so (the final weights, or
        a later improvement, are exported instead)."""
        source = ckpt.best_model_dir(self.resume_from)
        if source is None:
            best_step = ckpt.TrainState.load(Path(self.resume_from)).best_step
            if best_step is not None:
                self.echo(f"warning: {self.resume_from} records the best validation loss at step {best_step}, but "
                          "neither its best/ folder nor that checkpoint is there; unless a later evaluation "
                          "improves, the final weights will be exported")
            return
        self.has_best = True
        if self.d.is_main:
            ckpt.load_weights(source, self.model)
            self.best_tensors = model_tensors(self.model)

    def setup_state(self) -> None:
        from therapeutic_moe.training.progress import format_duration

        window = self.schedule.window_size
        self.state = ckpt.TrainState(data_fingerprint=fingerprint(self.train_ex), window_size=window)
        path = self.resume_from
        if path is not None:
            saved = ckpt.load_training_state(path, self.wrapped, self.optimizer, self.scheduler, rank=self.d.rank)
            if saved.window_size not in (None, window):
                raise UserError(
                    f"{path} was trained with {saved.window_size} micro-batches per optimizer step "
                    f"(gradient_accumulation_steps × processes); now {window}. Keep the global batch: set "
                    f"gradient_accumulation_steps so that it × {self.d.world_size} processes = {saved.window_size}")
            if saved.data_fingerprint != self.state.data_fingerprint:
                self.echo("warning: the training data differs from the checkpoint's; batch order will not match")
            self.state = saved
            saved.resumes += 1
            saved.stop_reason = None
            self.echo(f"Resumed from {path}: step {saved.global_step}, epoch {saved.epoch}, "
                      f"{format_duration(saved.elapsed_seconds)} of the {format_duration(self.cfg.max_hours * 3600)} "
                      "budget already used")
        self.elapsed_at_start = self.state.elapsed_seconds - (time.monotonic() - self.started)  # setup counts too

    def elapsed(self) -> float:
        """Training wall time, summed over every resume."""
        return self.elapsed_at_start + (time.monotonic() - self.started)

    def setup_logging(self) -> None:
        from therapeutic_moe.training.monitoring import NullLogger, make_logger
        from therapeutic_moe.training.progress import TrainingProgress

        cfg, state, model = self.cfg, self.state, self.model
        if self.d.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.logger = make_logger(cfg.report_to, self.run.wandb, self.out_dir, self.run_dict, state.wandb_run_id)
        else:
            self.logger = NullLogger()
        state.wandb_run_id = self.logger.run_id or state.wandb_run_id
        self.logger.log_summary({"model/trainable_params": self.counts["trainable"],
                                 "model/total_params": self.counts["total"]})
        self.progress = TrainingProgress(self.schedule.total_steps, cfg.max_hours, initial_step=state.global_step,
                                         initial_elapsed_s=state.elapsed_seconds, enabled=self.d.is_main)
        self.budget_s = cfg.max_hours * 3600
        self.last_checkpoint_time = time.monotonic()
        self.stats = RoutingStats(len(model.moe_layers), model.moe_config.num_experts) if model.context else None
        if self.stats is not None:
            model.context.stats = self.stats
        self.domains = model.moe_config.expert_domains if model.moe_config else []
        self.pad_id = self.tokenizer.pad_token_id
        self.interval = Interval(self.hw.device)

    # --- one optimizer step --------------------------------------------------------------------

    def next_window(self) -> list | None:
        """The next optimizer step's micro-batches, or None (and the next epoch) when the epoch is done."""
        state, plan = self.state, self.plan(self.state.epoch)
        if state.micro_batch >= len(plan):
            state.epoch, state.micro_batch = state.epoch + 1, 0
            return None
        return plan[state.micro_batch:state.micro_batch + self.schedule.window_size]

    def train_step(self, window: list) -> StepResult:
        """Forward and backward over one accumulation window (this rank's share of it)."""
        d, hw, cfg = self.d, self.hw, self.cfg
        step = StepResult(window=window, started=time.monotonic())
        batches = self.batches.take(self.state.epoch, self.state.micro_batch, len(window))
        # Counted on the CPU tensors before they move: no device sync. Every rank sees the
        # whole window, so the normaliser is global without communication.
        step.trained_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
        step.real_tokens = sum(int((b["sample_ids"] >= 0).sum()) for b in batches)
        mine, weight = batches[d.rank::d.world_size], 1.0
        if not mine:  # short last window: take part in the all-reduce with a zero-weight pass
            mine, weight = batches[:1], 0.0
        step.lm_sum = torch.zeros((), device=hw.device)
        self.plan_routing_work()
        for k, batch in enumerate(mine):
            batch = {key: v.to(hw.device, non_blocking=hw.pin_memory) for key, v in batch.items()}
            with no_sync(self.wrapped, last_micro_batch=k == len(mine) - 1), hw.autocast():
                # DDP averages gradients over ranks; the scales make that equal a one-process
                # sum over the window.
                out = self.wrapped(batch, lm_denominator=max(step.trained_tokens, 1) / d.world_size,
                                   domain_weight=self.domain_weight(), aux_scale=d.world_size / len(window))
                (out["loss"] * weight).backward()
            step.lm_sum += out["lm_loss_sum"] * weight
            self.interval.add_micro_batch(out, weight, len(window))
        self.end_routing_work()
        step.grad_norm = whole(torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm))
        return step

    def plan_routing_work(self) -> None:
        """Routing statistics only on the steps that log them (they are read once per logging
        interval); the domain-routing loss (and its per-sample probabilities) only while its weight
        is above 0. Neither changes the loss that is optimised."""
        ctx, moe = self.model.context, self.model.moe_config
        if ctx is None:
            return
        ctx.stats = self.stats if self.logging_due(self.state.global_step + 1) else None
        weight = self.domain_weight()
        ctx.compute_domain_loss = (moe.domain_routing_weight if weight is None else weight) > 0

    def end_routing_work(self) -> None:
        """Back to every statistic and loss for whatever runs next (validation, evaluate)."""
        if self.model.context is not None:
            self.model.context.stats, self.model.context.compute_domain_loss = self.stats, True

    def domain_weight(self) -> float | None:
        """The annealed supervised-routing weight (None: the configured one)."""
        cfg, moe = self.cfg, self.model.moe_config
        if moe is None or cfg.domain_routing_anneal_steps <= 0:
            return None
        return moe.domain_routing_weight * max(0.0, 1 - self.state.global_step / cfg.domain_routing_anneal_steps)

    def agree(self, step: StepResult, stop: GracefulStop) -> Control:
        """The one host sync of a step (one all-reduce when distributed): never apply a step built
        from NaN/inf, and let every rank take the same stop and save decisions."""
        device = self.hw.device
        periodic_due = time.monotonic() - self.last_checkpoint_time >= self.cfg.checkpoint_minutes * 60
        over_budget = self.elapsed() + self.margin() >= self.budget_s
        flags = torch.stack([(~torch.isfinite(step.lm_sum)).float(), (~torch.isfinite(step.grad_norm)).float(),
                             torch.tensor(float(stop.requested), device=device),
                             torch.tensor(float(over_budget), device=device),
                             torch.tensor(float(periodic_due), device=device)])
        reduced = self.d.all_reduce_(flags, op=torch.distributed.ReduceOp.MAX if self.d.enabled else None)
        return Control(*(bool(x) for x in reduced.tolist()))

    def margin(self) -> float:
        """Room to finish a step, save, and export before the budget ends."""
        return max(self.safety.time_limit_margin_minutes * 60, 2 * self.save_seconds + 2 * self.step_seconds)

    def halt(self, step: StepResult, control: Control) -> None:
        state = self.state
        ids = sorted({self.train_ex[i].conv_id for mb in step.window for row in mb for i in row})
        self.optimizer.zero_grad(set_to_none=True)
        raise TrainingHalted(
            f"non-finite {'loss' if control.bad_loss else 'gradient norm'} at step {state.global_step + 1} "
            f"(epoch {state.epoch}, micro-batches {state.micro_batch}-{state.micro_batch + len(step.window) - 1}; "
            f"conversations {', '.join(ids[:10])}); halted before the optimizer step, nothing saved from it. "
            "Lower learning_rate or check these samples.", exit_code=3)

    def apply_step(self, step: StepResult) -> None:
        state = self.state
        self.optimizer.step()
        moe_balance.after_optimizer_step(self.model)  # aux-free bias, routing warm-up counters
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        state.global_step += 1
        state.micro_batch += len(step.window)
        state.tokens_seen += step.real_tokens
        self.interval.add_step(step.lm_sum, step.grad_norm, step.trained_tokens, step.real_tokens)
        took = time.monotonic() - step.started
        self.step_seconds = 0.9 * self.step_seconds + 0.1 * took if self.step_seconds else took
        if state.micro_batch >= len(self.plan(state.epoch)):
            state.epoch, state.micro_batch = state.epoch + 1, 0

    # --- logging, evaluation, stopping -----------------------------------------------------------

    def logging_due(self, step: int | None = None) -> bool:
        """Whether ``step`` (default: the one just applied) logs its interval."""
        step = self.state.global_step if step is None else step
        return step % self.cfg.logging_steps == 0 or step == self.schedule.total_steps

    def log_interval(self) -> None:
        state, iv, d = self.state, self.interval, self.d
        n = iv.steps
        dt = max(time.monotonic() - iv.t0, 1e-9)
        loss_sum, lm_sum, lb, zl, dom = d.all_reduce_(iv.sums()).tolist()
        metrics = {
            "train/loss": loss_sum / n / d.world_size,  # each rank scaled its share by world_size
            "train/lm_loss": lm_sum / max(iv.tokens, 1),
            "train/learning_rate": self.scheduler.get_last_lr()[0],
            "train/grad_norm": float(iv.grad_norm) / n,
            "train/tokens_per_second": iv.all_tokens / dt,
            "train/epoch": state.epoch + state.micro_batch / max(len(self.plan(state.epoch)), 1),
            "time/elapsed_hours": self.elapsed() / 3600,
            "time/remaining_hours": max(0.0, self.budget_s - self.elapsed()) / 3600,
        }
        if self.model.moe_config is not None:
            metrics |= {"train/load_balancing_loss": lb / n, "train/router_z_loss": zl / n}
            if iv.has_dom:
                metrics["train/domain_routing_loss"] = dom / n
            metrics |= self._routing_interval_metrics()
        if self.hw.device.type == "cuda":
            metrics["gpu/memory_allocated_gb"] = torch.cuda.max_memory_allocated() / 2**30
        self.logger.log(metrics, step=state.global_step)
        state.history.append({"step": state.global_step} | {
            k: v for k, v in metrics.items() if not k.startswith("moe/usage/layer_")})
        self.progress.update(state.global_step, metrics, self.elapsed())
        self.interval = Interval(self.hw.device)

    def _routing_interval_metrics(self) -> dict:
        stats = self.stats
        if self.d.enabled:
            for t in (stats.assign_counts, stats.entropy_sum, stats.tokens, stats.confusion, stats.vote_confusion,
                      getattr(stats, "domain_assignments", None)):
                if t is not None:
                    self.d.all_reduce_(t)
        out = routing_metrics(stats.summary(), self.domains)
        stats.reset()
        return out

    def evaluation_due(self) -> bool:
        step = self.state.global_step
        return bool(self.val_ex) and (step % self.schedule.eval_every == 0 or step == self.schedule.total_steps)

    def evaluate_and_stop_early(self) -> None:
        """Validation (every rank evaluates the same data: same result), best model, early stopping."""
        cfg, state = self.cfg, self.state
        ev = evaluate(self.model, self.val_ex, self.hw, cfg, self.pad_id, self.packing, self.forward)
        self.evals_by_step[state.global_step] = dict(ev)
        routing = ev.pop("_routing", {})
        self.logger.log(ev | routing_metrics(routing, self.domains, prefix="val_moe"), step=state.global_step)
        state.history.append({"step": state.global_step} | ev)
        improved = state.best_metric is None or ev["val/loss"] < state.best_metric - cfg.early_stopping_threshold
        self.progress.note(f"Eval at step {state.global_step}: val loss {ev['val/loss']:.4f} "
                           f"(ppl {ev['val/perplexity']:.2f})" + (" — best so far" if improved else ""))
        if improved:
            state.best_metric, state.best_step = ev["val/loss"], state.global_step
            state.evals_without_improvement = 0
            self.keep_best()
            return
        state.evals_without_improvement += 1
        if 0 < cfg.early_stopping_patience <= state.evals_without_improvement:
            state.stop_reason = "early_stopping"

    def keep_best(self) -> None:
        """The improving evaluation's weights, copied to CPU memory (not a checkpoint of their own):
        the export uses them, and every later checkpoint carries them in its best/ folder, so a
        resume still has them. A crash before that checkpoint loses nothing: the resume replays the
        same steps (exact resume) and the same evaluation finds the same best again."""
        full = full_tensors(self.model) if self.sharded else None  # FSDP: every rank joins the gather
        self.best_tensors = model_tensors(self.model, full) if self.d.is_main else None
        self.has_best = True

    def decide_stop(self, control: Control, stop: GracefulStop) -> None:
        """Time budget and signals, as agreed by every rank in ``agree``."""
        state = self.state
        if state.stop_reason is None and control.over_budget and state.global_step < self.schedule.total_steps:
            state.stop_reason = "time_budget"
        if control.signalled:
            state.stop_reason = f"signal_{stop.signal_name or 'SIGTERM'}"

    def checkpoint_due(self, control: Control) -> bool:
        cfg, state = self.cfg, self.state
        periodic = control.periodic_due or (cfg.save_steps > 0 and state.global_step % cfg.save_steps == 0)
        return periodic or state.stop_reason in ("time_budget", "signal_SIGTERM", "signal_SIGINT")

    # --- checkpoint and export -----------------------------------------------------------------

    @contextmanager
    def checkpoint_writes(self):
        """The checkpoint writer for the loop. However the loop is left, the write in flight is
        published first (or its error raised): the export, a signal's exit and an error's exit all
        come after it, and every rank waits for it."""
        background = self.cfg.async_checkpointing and self.d.is_main  # only rank 0 writes
        self.writer = CheckpointWriter(background=background)
        try:
            yield
        except BaseException:
            self.close_writer_quietly()
            raise
        self.writer.close()
        self.d.barrier()  # nobody goes on (or exits) before the last checkpoint is published

    def close_writer_quietly(self) -> None:
        """On the way out of an error: publish the write in flight, report (not raise) its own error
        so that the one already raised is what the run ends with."""
        try:
            self.writer.close()
        except Exception as exc:  # noqa: BLE001 - the run already fails; this must not hide why
            self.echo(f"warning: {exc}")

    def checkpoint(self, reason: str) -> Path:
        from therapeutic_moe.training.progress import format_duration

        t = time.monotonic()
        self.writer.wait()  # a failed earlier write stops the run here, before it saves again
        state = self.state
        state.elapsed_seconds = self.elapsed()
        rngs = self.d.gather_objects(ckpt.rng_state())  # every rank takes part
        # FSDP: every rank joins the gathers; rank 0 then writes whole tensors
        full = full_tensors(self.model) if self.sharded else None
        optim_state = full_optimizer_state(self.wrapped, self.optimizer) if self.sharded else None
        path = self.out_dir / f"checkpoint-{state.global_step}"
        if self.d.is_main:  # the copy is synchronous; the write, hashes, fsyncs, rename and prune may not be
            contents = ckpt.snapshot(self.model, self.optimizer, self.scheduler, state, self.run_dict, rngs, full,
                                     optim_state, self.best_tensors)
            self.writer.submit(lambda: ckpt.save_training_checkpoint(self.out_dir, self.model, contents,
                                                                     self.cfg.save_total_limit), what=str(path))
        if not self.cfg.async_checkpointing:
            self.d.barrier()  # nobody goes on before the checkpoint is published
        blocked = time.monotonic() - t
        self.blocked_seconds.append(blocked)
        # A stop waits for the write in flight and then saves once more: the budget margin needs both.
        self.save_seconds = max(self.save_seconds, blocked + (self.writer.write_seconds if self.writer.background
                                                              else 0.0))
        self.last_checkpoint_time = time.monotonic()
        written = " (writing in the background)" if self.writer.background else ""
        self.progress.note(f"Checkpoint at {format_duration(state.elapsed_seconds)} ({reason}): {path}{written}")
        return path

    def finish(self) -> int:
        """Exit code of the run: a signal's, or 0 after exporting the best (or final) weights and the report."""
        state = self.state
        state.elapsed_seconds = self.elapsed()
        if state.stop_reason.startswith("signal_"):
            name = state.stop_reason.removeprefix("signal_")
            exit_code = 128 + getattr(signal, name).value
            self.echo(f"Stopped by {name} at step {state.global_step}: checkpoint saved in {self.out_dir}; "
                      f"resume with --resume_from_checkpoint latest")
            self.logger.finish(exit_code=exit_code)
            return exit_code
        use_best = state.best_step not in (None, state.global_step) and self.has_best
        exported_step = state.best_step if use_best else state.global_step
        if self.sharded:  # collectives first, on every rank; rank 0 then works alone
            if self.val_ex and exported_step not in self.evals_by_step:
                self.evals_by_step[exported_step] = evaluate(self.model, self.val_ex, self.hw, self.cfg, self.pad_id,
                                                             self.packing, self.forward)
        full = full_tensors(self.model) if self.sharded and not use_best else None
        if not self.d.is_main:
            return 0
        if use_best:  # the best evaluation's weights, kept in memory (or read back on resume)
            exported = f"best weights (step {state.best_step}, val loss {state.best_metric:.4f})"
            export_atomically(self.model, self.tokenizer, self.out_dir, as_full(self.model, self.best_tensors))
        else:
            exported = f"final weights (step {state.global_step})"
            export_atomically(self.model, self.tokenizer, self.out_dir, full)
        self.write_report(exported, exported_step)
        return 0

    def write_report(self, exported: str, exported_step: int) -> None:
        """training_report.json, the plots, the run config, the logger's summary and the last line."""
        from therapeutic_moe.config import save_run_config
        from therapeutic_moe.training.plots import plot_expert_usage_heatmap, plot_training_curves
        from therapeutic_moe.training.progress import format_duration

        cfg, state, out_dir = self.cfg, self.state, self.out_dir
        save_run_config(self.run, out_dir / "run_config")
        plots, final_eval, final_routing = [], {}, {}
        if self.val_ex:
            final_eval = self.evals_by_step.get(exported_step) or evaluate(self.model, self.val_ex, self.hw, cfg,
                                                                           self.pad_id, self.packing)
            final_routing = final_eval.pop("_routing", {})
        if final_routing:
            plots.append(plot_expert_usage_heatmap(np.array(final_routing["usage_per_layer"]), self.domains,
                                                   out_dir / "expert_usage.png",
                                                   title="Expert usage per layer (validation)"))
        plots.append(plot_training_curves(state.history, out_dir / "training_curves.png"))
        for p in plots:
            self.logger.log_image(Path(p).stem, p, step=state.global_step)
        report = {
            "stop_reason": state.stop_reason, "global_step": state.global_step,
            "total_steps": self.schedule.total_steps, "epochs_completed": state.epoch,
            "elapsed_hours": state.elapsed_seconds / 3600, "resumes": state.resumes, "exported": exported,
            "best_val_loss": state.best_metric, "best_step": state.best_step, "final_eval": final_eval,
            "routing": final_routing, "parameters": self.counts,
            "data": self.data.report.to_dict() if hasattr(self.data.report, "to_dict") else None,
            "seconds_per_step": self.step_seconds, "hardware": self.hw.description, "world_size": self.d.world_size,
            "wandb_run_id": self.logger.run_id,
            "wandb_run_dir": str(self.logger.run_dir) if self.logger.run_dir else None,
            "history": state.history,
        }
        (out_dir / "training_report.json").write_text(json.dumps(report, indent=1, default=str))
        self.logger.log_summary({"stop_reason": state.stop_reason, **final_eval})
        self.logger.finish(exit_code=0)
        why = {"completed": "all steps done",
               "early_stopping": f"early stopping (no improvement in {cfg.early_stopping_patience} evaluations)",
               "time_budget": f"time budget of {format_duration(self.budget_s)} nearly used (resume with "
                              "--resume_from_checkpoint latest to continue)"}[state.stop_reason]
        say(f"Stopped: {why}. Exported {exported} to {out_dir}/: adapter_config.json, adapter_model.safetensors"
            f"{', moe_layers.pt' if self.model.moe_config else ''}, moe_config.json, tokenizer, training_report.json, "
            f"{', '.join(Path(p).name for p in plots)}")
