"""Everything about checkpoints: what goes in, what comes out, and how it is published and verified.

What goes in (``snapshot`` copies it to the CPU, ``save_training_checkpoint`` writes it, on the
training thread or the background writer of ``training.checkpoint_writer``): the model files
(adapter, experts, moe_config.json, written by ``modeling.saving.save_model_files``, the same
format as an export), the best evaluation's model files in ``best/`` when that is an earlier
step (the best weights live in memory, not in a checkpoint of their own), the optimizer and
scheduler state, every rank's RNG states, the loop state (``TrainState``, trainer_state.json)
and the run's config. What comes out: ``load_weights`` (adapter and expert
weights into the plain model, after ``check_same_model``) and ``load_training_state`` (the rest,
after the model is wrapped).

How it is published: written into ``checkpoint-N.tmp/``, every file fsynced, then a
``COMPLETE`` manifest with each file's size and SHA-256 is written and the directory renamed to
``checkpoint-N``. A directory without a verifying manifest is torn: resume skips it with a
warning and uses the newest one that verifies (the HF Trainer would happily load a torn one).
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

from therapeutic_moe.errors import UserError
from therapeutic_moe.file_hash import sha256_of_file

MANIFEST = "COMPLETE"
BEST_DIR = "best"  # inside a checkpoint: the model files of the best evaluation, when not this step
STATE_FILE = "trainer_state.json"
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(output_dir: Path, step: int, write_files: Callable[[Path], None]) -> Path:
    """Run ``write_files(tmp_dir)``, then seal and publish the directory atomically."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f"checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write_files(tmp)
    files = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        _fsync(path)
        files[str(path.relative_to(tmp))] = {"bytes": path.stat().st_size, "sha256": sha256_of_file(path)}
    manifest = tmp / MANIFEST
    manifest.write_text(json.dumps({"step": step, "written_at": time.time(), "files": files}, indent=1))
    _fsync(manifest)
    _fsync(tmp)
    if final.exists():  # same step saved again (e.g. a stop right after a periodic save)
        old = output_dir / f"checkpoint-{step}.old"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)
    _fsync(output_dir)
    return final


def _manifest_problem(document) -> str | None:
    """Why ``document`` is not {"files": {name: {"bytes": int, "sha256": str}}}, else None."""
    if not isinstance(document, dict):
        return f"expected a JSON object, got {type(document).__name__}"
    files = document.get("files")
    if not isinstance(files, dict):
        return f"'files' must be an object, got {type(files).__name__}"
    for name, meta in files.items():
        # Only names inside the checkpoint: a manifest must not make resume hash files elsewhere.
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts:
            return f"file name {name!r} is not inside the checkpoint"
        if not isinstance(meta, dict):
            return f"entry for {name!r} must be an object, got {type(meta).__name__}"
        size, digest = meta.get("bytes"), meta.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or not isinstance(digest, str):
            return f"entry for {name!r} needs an integer 'bytes' and a string 'sha256'"
    return None


def verify_checkpoint(path: Path, deep: bool = True) -> str | None:
    """None when the checkpoint is complete and intact, else the reason it is not."""
    path = Path(path)
    manifest = path / MANIFEST
    if not manifest.is_file():
        return "no COMPLETE manifest (save was interrupted)"
    try:
        document = json.loads(manifest.read_text())
    except (ValueError, OSError, RecursionError) as exc:
        return f"unreadable manifest: {exc}"
    # A manifest can parse yet have another shape (a torn or hand-edited file); that is a
    # torn checkpoint too, never a traceback during resume.
    problem = _manifest_problem(document)
    if problem is not None:
        return f"malformed manifest: {problem}"
    for name, meta in document["files"].items():
        f = path / name
        try:
            if not f.is_file():
                return f"{name} is missing"
            if f.stat().st_size != meta["bytes"]:
                return f"{name} has {f.stat().st_size} bytes, manifest says {meta['bytes']}"
            if deep and sha256_of_file(f) != meta["sha256"]:
                return f"{name} does not match its SHA-256"
        except (OSError, ValueError) as exc:  # unreadable, name too long, NUL in the name
            return f"{name!r} cannot be checked: {exc}"
    return None


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in output_dir.iterdir() if p.is_dir() and (m := CHECKPOINT_RE.match(p.name))]
    return sorted(found)


def find_latest_valid(output_dir: Path) -> Path | None:
    """Newest checkpoint whose manifest verifies; torn ones are skipped with a warning."""
    for step, path in reversed(list_checkpoints(output_dir)):
        reason = verify_checkpoint(path)
        if reason is None:
            return path
        warnings.warn(f"skipping torn checkpoint {path}: {reason}", stacklevel=2)
    return None


def resolve_resume(value: str | None, output_dir: Path) -> Path | None:
    """``latest`` → newest valid checkpoint in output_dir (None if there is none yet);
    a path → that checkpoint, refused if its manifest does not verify."""
    if not value:
        return None
    if value == "latest":
        return find_latest_valid(output_dir)
    path = Path(value)
    if not path.is_dir():
        raise UserError(f"--resume_from_checkpoint {value}: no such directory")
    reason = verify_checkpoint(path)
    if reason is not None:
        latest = find_latest_valid(path.parent)
        hint = f"; the newest intact one is {latest}" if latest else ""
        raise UserError(f"--resume_from_checkpoint {value}: refusing a damaged checkpoint ({reason}){hint}")
    return path


def prune_checkpoints(output_dir: Path, keep_last: int, protect: set[Path] = frozenset()) -> list[Path]:
    """Delete the oldest complete checkpoints beyond ``keep_last``, never a protected one
    (the best, the newest) and never leaving zero intact checkpoints. Stale ``.tmp``
    directories of interrupted saves are removed too."""
    output_dir = Path(output_dir)
    removed = []
    for stale in output_dir.glob("checkpoint-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
        removed.append(stale)
    if keep_last <= 0:
        return removed
    valid = [p for _, p in list_checkpoints(output_dir) if verify_checkpoint(p, deep=False) is None]
    protect = {Path(p).resolve() for p in protect}
    if valid:
        protect.add(valid[-1].resolve())
    excess = len(valid) - keep_last
    for path in valid:
        if excess <= 0:
            break
        if path.resolve() in protect:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        excess -= 1
    return removed


# --- what goes in and comes out ------------------------------------------------------------

@dataclass
class TrainState:
    """Everything about a run's progress that a resume needs, saved as trainer_state.json."""

    global_step: int = field(default=0, metadata={"help": "Optimizer steps done."})
    epoch: int = field(default=0, metadata={"help": "Current epoch."})
    micro_batch: int = field(default=0, metadata={"help": "Next micro-batch index within the epoch's plan."})
    elapsed_seconds: float = field(default=0.0, metadata={"help": "Wall time used so far, summed over resumes."})
    tokens_seen: int = field(default=0, metadata={"help": "Real (non-padding) tokens trained on."})
    best_metric: float | None = field(default=None, metadata={"help": "Best validation loss."})
    best_step: int | None = field(default=None, metadata={"help": "Step of the best validation loss."})
    evals_without_improvement: int = field(default=0, metadata={"help": "Evaluations since the best one."})
    wandb_run_id: str | None = field(default=None, metadata={"help": "Run id a resume continues."})
    data_fingerprint: str | None = field(default=None, metadata={"help": "Hash of the training windows."})
    window_size: int | None = field(default=None, metadata={
        "help": "Micro-batches per optimizer step (accumulation × processes)."})
    stop_reason: str | None = field(default=None, metadata={"help": "Why the run stopped, once it has."})
    resumes: int = field(default=0, metadata={"help": "How often the run was resumed."})
    history: list[dict] = field(default_factory=list, metadata={"help": "Logged metric rows, for plots."})

    def save(self, directory: Path) -> None:
        (Path(directory) / STATE_FILE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, directory: Path) -> "TrainState":
        data = json.loads((Path(directory) / STATE_FILE).read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def rng_state() -> dict:
    """This process's Python, NumPy, torch (and CUDA) generator states, as tensors and lists."""
    import numpy as np
    import torch

    np_state = np.random.get_state()
    state = {"python": list(random.getstate()[1]), "python_pos": random.getstate()[2],
             "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)), "numpy_pos": int(np_state[2]),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import numpy as np
    import torch

    random.setstate((3, tuple(state["python"]), state["python_pos"]))
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rng_file(rank: int) -> str:
    return "rng_state.pt" if rank == 0 else f"rng_state_rank{rank}.pt"


@dataclass
class CheckpointContents:
    """Everything one checkpoint holds, copied to the CPU at the save point (``snapshot``), so it
    can be written on another thread while training changes the live tensors."""

    state: TrainState = field(metadata={"help": "The loop state at the save point (a copy)."})
    model_tensors: dict = field(metadata={"help": "Adapter, router and expert tensors by name (CPU)."})
    optimizer_state: dict = field(metadata={"help": "optimizer.state_dict() (CPU), name-keyed under FSDP."})
    scheduler_state: dict = field(metadata={"help": "scheduler.state_dict() (a copy)."})
    rng_states: list = field(metadata={"help": "Every rank's generator states."})
    run_config: dict = field(metadata={"help": "The run's three configs as dicts."})
    best_tensors: dict | None = field(default=None, metadata={
        "help": "The best evaluation's model tensors by name, when that is not this step (written to best/)."})

    @property
    def step(self) -> int:
        return self.state.global_step


def snapshot(model, optimizer, scheduler, state: TrainState, run_config_dict: dict, rng_states: list[dict],
             full: dict | None = None, optimizer_state: dict | None = None,
             best_tensors: dict | None = None) -> CheckpointContents:
    """Copy what ``checkpoint-<step>`` needs to the CPU (on the training thread). ``full``/
    ``optimizer_state``: the gathered whole tensors and name-keyed optimizer state of a sharded
    (FSDP) run, already whole copies on the CPU; ``best_tensors``: from ``snapshot.model_tensors``."""
    from therapeutic_moe.training.snapshot import cpu_copy, model_tensors

    return CheckpointContents(
        state=copy.deepcopy(state), model_tensors=model_tensors(model, full),
        optimizer_state=cpu_copy(optimizer.state_dict()) if optimizer_state is None else optimizer_state,
        scheduler_state=copy.deepcopy(scheduler.state_dict()), rng_states=cpu_copy(rng_states),
        run_config=copy.deepcopy(run_config_dict),
        best_tensors=best_tensors if state.best_step not in (None, state.global_step) else None)


def save_checkpoint(output_dir, model, contents: CheckpointContents) -> Path:
    """Write and publish ``checkpoint-<step>`` from ``contents``. ``model`` only gives the file
    format (names, LoRA config, expert layout): every value written comes from ``contents``."""
    import torch

    from therapeutic_moe.modeling.saving import save_model_files
    from therapeutic_moe.training.snapshot import as_full

    def write(tmp: Path) -> None:
        save_model_files(model, tmp, as_full(model, contents.model_tensors))
        if contents.best_tensors is not None:  # a resume can still export the best evaluation's weights
            (tmp / BEST_DIR).mkdir()
            save_model_files(model, tmp / BEST_DIR, as_full(model, contents.best_tensors))
        torch.save(contents.optimizer_state, tmp / "optimizer.pt")
        torch.save(contents.scheduler_state, tmp / "scheduler.pt")
        for rank, rng in enumerate(contents.rng_states):  # every rank's generators: dropout must replay exactly
            torch.save(rng, tmp / rng_file(rank))
        contents.state.save(tmp)
        (tmp / "run_config.json").write_text(json.dumps(contents.run_config, indent=1, default=str))

    return write_checkpoint(output_dir, contents.step, write)


def save_training_checkpoint(output_dir: Path, model, contents: CheckpointContents, save_total_limit: int) -> Path:
    """Rank 0's part of a checkpoint: write and publish it, then prune old ones (never the best).
    Safe on a background thread: it reads only ``contents`` and the model's structure."""
    path = Path(output_dir) / f"checkpoint-{contents.step}"
    try:
        path = save_checkpoint(output_dir, model, contents)
    except OSError as exc:  # e.g. ENOSPC: the .tmp directory is never published, nothing is lost
        raise UserError(
            f"could not write {path} ({exc.strerror or exc}: {exc.filename or path}); earlier checkpoints "
            f"are intact. Free space in {output_dir} and resume with --resume_from_checkpoint latest") from None
    # Derived from the step, never a stored path: the output directory may have moved.
    best_step = contents.state.best_step
    protect = {Path(output_dir) / f"checkpoint-{best_step}"} if best_step is not None else set()
    prune_checkpoints(output_dir, save_total_limit, protect)
    return path


def best_model_dir(checkpoint: Path) -> Path | None:
    """Where the model files of the best evaluation recorded in ``checkpoint`` are: the checkpoint
    itself (best at its step), its ``best/`` folder, or (checkpoints written before ``best/``
    existed) a complete ``checkpoint-<best_step>`` beside it; None when none of these is there."""
    checkpoint = Path(checkpoint)
    state = TrainState.load(checkpoint)
    if state.best_step is None:
        return None
    if state.best_step == state.global_step:
        return checkpoint
    if (checkpoint / BEST_DIR).is_dir():
        return checkpoint / BEST_DIR
    beside = checkpoint.parent / f"checkpoint-{state.best_step}"
    return beside if beside.is_dir() and verify_checkpoint(beside) is None else None


def check_same_model(path: Path, model) -> None:
    """A checkpoint only fits a model built with the same LoRA/expert shapes and scales; say which
    differ. The scales and top_k change no shape, so a mismatch would load and then train another
    model (e.g. a run started before the default expert_alpha went from 8 to 16)."""
    from therapeutic_moe.modeling.saving import read_meta

    saved = read_meta(path)
    lora = model.peft_model.peft_config["default"]
    now = {"use_moe": model.moe_config is not None, "lora_r": lora.r,
           "lora_target_modules": sorted(lora.target_modules), "lora_alpha": lora.lora_alpha}
    then = {"use_moe": saved.get("use_moe", True), "lora_r": saved.get("lora", {}).get("r"),
            "lora_target_modules": sorted(saved.get("lora", {}).get("target_modules", [])),
            "lora_alpha": saved.get("lora", {}).get("lora_alpha", lora.lora_alpha)}
    if model.moe_config is not None and then["use_moe"]:
        moe = model.moe_config
        now |= {"expert_domains": moe.expert_domains, "expert_r": moe.expert_r, "expert_alpha": moe.expert_alpha,
                "top_k": moe.top_k}
        then |= {"expert_domains": saved.get("expert_domains"), "expert_r": saved.get("expert_r"),
                 "expert_alpha": saved.get("expert_alpha", moe.expert_alpha), "top_k": saved.get("top_k", moe.top_k)}
    diff = [f"{k}: checkpoint {then[k]!r}, now {now[k]!r}" for k in now if then.get(k) != now[k]]
    if diff:
        raise UserError(f"{path} was trained with other model settings ({'; '.join(diff)}). Resume with the "
                        f"settings in {path / 'run_config.json'}, or train into a new output_dir")


def load_weights(path: Path, model) -> None:
    """Adapter and expert weights of a checkpoint, into the plain (not yet sharded) model."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from therapeutic_moe.modeling.saving import ADAPTER_FILES, MOE_WEIGHTS, read_moe_weights

    check_same_model(path, model)
    adapter = load_file(str(path / ADAPTER_FILES[1]))
    result = set_peft_model_state_dict(model.peft_model, adapter)
    if getattr(result, "unexpected_keys", None):
        raise UserError(f"{path}: adapter weights do not fit this model ({result.unexpected_keys[:3]}…)")
    if model.moe_config is not None:
        model.load_moe_state_dict(read_moe_weights(path / MOE_WEIGHTS))


def load_training_state(path: Path, wrapped, optimizer, scheduler, rank: int = 0) -> TrainState:
    """Optimizer, scheduler, this rank's RNG and the loop state (after wrapping: FSDP replaces
    the parameters the optimizer holds)."""
    import torch

    from therapeutic_moe.training.distributed import is_sharded, load_full_optimizer_state

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
