"""`TrainConfig`: everything in ``moe_training_config.json``.

Training keys keep the names and meanings of Hugging Face ``TrainingArguments`` so a
config written for an HF run reads the same here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from therapeutic_moe.config.validation import (
    Problem,
    did_you_mean,
    fields_differing_from_default,
    show,
    validate_in_post_init,
)

DEFAULT_EXPERT_DOMAINS = ["psychology", "mental_health", "bias_detection", "general_therapeutic"]
MAX_CONTEXT_LIMIT = 131072

DEFAULT_SYSTEM_PROMPT = (
    "You are a supportive, non-judgmental therapeutic conversation assistant. Listen "
    "carefully, reflect feelings, ask open questions and help the person explore their "
    "own thoughts and options. You are not a replacement for professional care: encourage "
    "the person to reach out to a qualified professional when that would help, and to "
    "emergency services if they are in danger."
)

ATTN_IMPLEMENTATIONS = ["auto", "sdpa", "eager", "flash_attention_2", "flex_attention"]
LR_SCHEDULERS = ["linear", "cosine", "constant", "constant_with_warmup"]
OPTIMIZERS = ["auto", "adamw_torch", "adamw_torch_fused"]
REPORTERS = ["wandb", "mlflow", "tensorboard", "none"]

Auto = Literal["auto"]


@dataclass
class TrainConfig:
    """Model, LoRA, mixture-of-experts, data, training and time-budget settings."""

    FILE_NAME: ClassVar[str] = "moe_training_config.json"
    # First field of each group -> group title, for the help listing and the docs.
    SECTIONS: ClassVar[dict[str, str]] = {
        "base_model": "Model",
        "lora_r": "LoRA on attention",
        "use_moe": "Mixture of LoRA experts (FFN)",
        "dataset": "Data",
        "output_dir": "Training (Hugging Face TrainingArguments names)",
        "max_hours": "Time budget and early stopping",
    }

    # ---- Model
    base_model: str = field(
        default="smollm2-135m-instruct",
        metadata={"help": 'Base causal LM: "smollm2-135m-instruct" (the built-in default, '
                  "SmolLM2-135M-Instruct), a local Hugging Face model directory, or a hub id."},
    )
    model_cache_dir: str | None = field(
        default=None,
        metadata={"help": "Where the converted default model is cached. null = the "
                  "THERAPEUTIC_MOE_CACHE environment variable, else ~/.cache/therapeutic_moe."},
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "Allow a hub model to run its own Python code when loading. Only for "
                  "models whose code you have read."},
    )
    attn_implementation: str = field(
        default="auto",
        metadata={"help": "Attention kernel. auto = flash_attention_2 when installed on a GPU, "
                  "else sdpa.", "choices": ATTN_IMPLEMENTATIONS},
    )

    # ---- LoRA on attention
    lora_r: int = field(default=16, metadata={"help": "Rank of the attention LoRA update.", "ge": 1})
    lora_alpha: int = field(
        default=32, metadata={"help": "LoRA scaling numerator: the update is scaled by lora_alpha / lora_r.", "ge": 1}
    )
    lora_dropout: float = field(
        default=0.05, metadata={"help": "Dropout on the attention LoRA input during training.", "ge": 0, "lt": 1}
    )
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "Attention projections that get a LoRA adapter (module name suffixes)."},
    )

    # ---- Mixture of LoRA experts
    use_moe: bool = field(
        default=True,
        metadata={"help": "Add the mixture of LoRA experts to every FFN. false = plain attention "
                  "LoRA baseline (all expert_* and routing keys are then ignored)."},
    )
    num_experts: int = field(
        default=4,
        metadata={"help": "Number of experts per FFN. Must equal the length of expert_domains when "
                  "both are given; if only expert_domains is given it is derived from it; if only "
                  'num_experts is given (and differs from 4) the experts are named "expert_0" .. '
                  '"expert_{n-1}".', "ge": 1},
    )
    expert_domains: list[str] = field(
        default_factory=lambda: list(DEFAULT_EXPERT_DOMAINS),
        metadata={"help": "Name of each expert, in order: expert i specialises in domain i. A "
                  "sample's domain label routes it to that expert during supervised routing."},
    )
    top_k: int = field(
        default=2,
        metadata={"help": "Experts chosen per token (1 <= top_k <= num_experts). Left out, it is "
                  "lowered to num_experts when there are fewer than 2 experts.", "ge": 1},
    )
    expert_r: int = field(default=2, metadata={"help": "Rank of each routed expert's LoRA update (the default 2, "
                          "beside an always-on expert of rank 8, spends the blocks of four rank-4 experts).", "ge": 1})
    expert_alpha: int = field(
        default=8, metadata={"help": "Expert scaling numerator: updates are scaled by expert_alpha / expert_r. "
                             "The top-k gates sum to 1, so 8 with r 2 and top-2 gives a chosen routed expert "
                             "about the attention LoRA's scale (32 / 16) and the always-on one twice it "
                             "(docs/results.md).", "ge": 1}
    )
    expert_dropout: float = field(
        default=0.0, metadata={"help": "Dropout on the expert LoRA input during training.", "ge": 0, "lt": 1}
    )
    expert_target_modules: list[str] = field(
        default_factory=lambda: ["gate_proj", "up_proj", "down_proj"],
        metadata={"help": "FFN projections that get expert LoRA deltas (module name suffixes)."},
    )
    router_init_std: float = field(
        default=0.02, metadata={"help": "Standard deviation of the router weight initialisation.", "gt": 0}
    )
    router_lr_multiplier: float = field(
        default=1.0,
        metadata={"help": "Learning rate of the routers as a multiple of learning_rate. Routers start "
                  "near uniform and, at a LoRA learning rate, stay close to it for short runs "
                  "(token routing entropy ~ ln E); a larger value lets routing specialise sooner.", "gt": 0},
    )
    load_balancing_weight: float = field(
        default=0.01,
        metadata={"help": "Weight of the load-balancing loss that keeps experts evenly used. Raise "
                  "(e.g. 0.05) when a few experts take all tokens.", "ge": 0},
    )
    router_z_loss_weight: float = field(
        default=0.001, metadata={"help": "Weight of the router z-loss that keeps router logits small.", "ge": 0}
    )
    domain_routing_weight: float = field(
        default=0.1,
        metadata={"help": "Weight of the supervised routing loss that sends a labelled sample to its "
                  "domain's expert. 0 = routing is learned from the language-model loss only.", "ge": 0},
    )
    domain_routing_anneal_steps: int = field(
        default=0,
        metadata={"help": "0 = constant domain_routing_weight; N = decay it linearly to 0 over the "
                  "first N optimizer steps.", "ge": 0},
    )
    domain_routing_class_balance: bool = field(
        default=True,
        metadata={"help": "Weigh each labelled sample in the supervised routing loss by the inverse "
                  "frequency of its domain in the training data, so rare domains are not swamped by "
                  "common ones (without it, routing tends to collapse onto the majority domains' experts)."},
    )
    # Routing recipes (docs/architecture.md, "Routing recipes"); MoEConfig checks the same names.
    expert_init: str = field(
        default="zero",
        metadata={"help": "zero: experts start at B = 0 (LoRA init), so at step 0 the routers get no "
                  "gradient from the language-model loss. compensated: B starts non-zero and a frozen copy "
                  "of the initial experts, fed the detached gates, is subtracted: the model is exactly the "
                  "base model at step 0 while the routers get signal from the first step.",
                  "choices": ["zero", "compensated"]},
    )
    expert_init_std: float = field(
        default=0.02, metadata={"help": "Standard deviation of the initial expert B for expert_init=compensated.", "ge": 0}
    )
    expert_structure: str = field(
        default="independent",
        metadata={"help": "independent: every expert has its own A and B. shared_a: one A per projection "
                  "shared by all experts, one B each (HydraLoRA); raise expert_r to spend the same parameters.",
                  "choices": ["independent", "shared_a"]},
    )
    shared_expert: bool = field(
        default=True,
        metadata={"help": "Add one always-on expert (gate 1) per projection beside the routed experts; "
                  "it costs one more expert's parameters."},
    )
    shared_expert_r: int = field(
        default=8,
        metadata={"help": "Rank of the always-on expert; 0 = expert_r. A multiple of expert_r (needs "
                  "shared_expert and expert_structure=independent): a wide shared expert beside narrow routed "
                  "ones keeps more rank per token in the same parameters. Every block has the scale "
                  "expert_alpha / expert_r."},
    )
    balancing: str = field(
        default="loss",
        metadata={"help": "loss: the load-balancing loss only. aux_free: also a per-expert bias on the "
                  "router logits that changes which experts are chosen (not their gates), moved after "
                  "each optimizer step by aux_free_bias_rate toward equal load (DeepSeek-V3); it is "
                  "saved in checkpoints and the exported model. Combine with a small load_balancing_weight.",
                  "choices": ["loss", "aux_free"]},
    )
    aux_free_bias_rate: float = field(
        default=0.001, metadata={"help": "Step of the aux-free selection bias per optimizer step.", "ge": 0}
    )
    load_balancing_warmup_steps: int = field(
        default=0,
        metadata={"help": "Ramp the load-balancing loss's gradient linearly from 0 to full over this many "
                  "optimizer steps (its logged value is the unscaled loss). 0 = full from step 0.", "ge": 0},
    )
    dense_routing_steps: int = field(
        default=0,
        metadata={"help": "For this many optimizer steps every expert runs, weighted by its router "
                  "probability (dense soft routing: every router weight gets gradient), then top-k.", "ge": 0},
    )
    router_input: str = field(
        default="token",
        metadata={"help": "What the routers read: 'token' (each token's hidden state) or 'sequence' (the running "
                  "mean of the layer input over the conversation so far, so a conversation's tokens share "
                  "slowly changing experts).", "choices": ["token", "sequence"]},
    )
    topic_to_domain: dict[str, str] = field(
        default_factory=dict,
        metadata={"help": 'Maps a sample\'s topic label to an expert domain, e.g. {"anxiety": '
                  '"mental_health"}. Every value must be one of expert_domains.', "allow_empty": True},
    )

    # ---- Data
    dataset: str | None = field(
        default=None,
        metadata={"help": "Training data: a .json/.jsonl/.parquet/.arrow file (transcripts, OpenAI messages, "
                  "ShareGPT or Alpaca records), a directory of them, a Hugging Face save_to_disk directory, "
                  "or a hub dataset id. null = ./training_dataset.json if present, else the bundled sample."},
    )
    validation_dataset: str | None = field(
        default=None,
        metadata={"help": "Separate validation data, in any of the dataset formats. null = hold out "
                  "validation_split of the training data."},
    )
    validation_split: float = field(
        default=0.1,
        metadata={"help": "Share of training conversations held out for validation when no "
                  "validation_dataset is given. 0 = no validation.", "ge": 0, "lt": 1},
    )
    max_seq_length: int = field(
        default=2048, metadata={"help": "Tokens per training sequence; longer conversations are split.", "ge": 1}
    )
    max_context_length: int = field(
        default=8192,
        metadata={"help": "Longest context used at inference (position range the model is set up "
                  "for). Must be >= max_seq_length.", "ge": 1, "le": MAX_CONTEXT_LIMIT},
    )
    packing: bool | Auto = field(
        default="auto",
        metadata={"help": "Pack several short conversations into one sequence without "
                  "cross-attention between them. auto = on where the attention kernel supports it."},
    )
    system_prompt: str = field(
        default=DEFAULT_SYSTEM_PROMPT,
        metadata={"help": "System message put before every conversation. Empty = none.", "allow_empty": True},
    )
    assistant_speakers: list[str] = field(
        default_factory=lambda: ["Therapist", "Counselor", "Counsellor", "Assistant"],
        metadata={"help": 'Speaker names (before ":") whose lines the model learns to write.'},
    )
    user_speakers: list[str] = field(
        default_factory=lambda: ["Client", "Patient", "User"],
        metadata={"help": 'Speaker names (before ":") whose lines are context only (no loss).'},
    )
    dedupe: bool = field(default=True, metadata={"help": "Drop exact duplicate conversations."})
    max_drop_fraction: float = field(
        default=0.5,
        metadata={"help": "Stop with an error when more than this share of samples is dropped as "
                  "unusable (a sign of a format mismatch).", "ge": 0, "le": 1},
    )

    # ---- Training (HF TrainingArguments)
    output_dir: str = field(
        default="therapeutic_moe_model", metadata={"help": "Directory for checkpoints and the final model."}
    )
    num_train_epochs: float = field(
        default=3.0, metadata={"help": "Passes over the training data (ignored when max_steps > 0).", "gt": 0}
    )
    max_steps: int = field(
        default=-1, metadata={"help": "Total optimizer steps; -1 = use num_train_epochs.", "ge": -1}
    )
    per_device_train_batch_size: int = field(
        default=4, metadata={"help": "Sequences per device per forward pass in training.", "ge": 1}
    )
    per_device_eval_batch_size: int = field(
        default=4, metadata={"help": "Sequences per device per forward pass in evaluation.", "ge": 1}
    )
    gradient_accumulation_steps: int = field(
        default=8,
        metadata={"help": "Forward passes per optimizer step. Effective batch = "
                  "per_device_train_batch_size x gradient_accumulation_steps x devices.", "ge": 1},
    )
    learning_rate: float = field(default=3e-4, metadata={"help": "Peak learning rate.", "gt": 0})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay.", "ge": 0})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1.", "ge": 0, "lt": 1})
    adam_beta2: float = field(default=0.999, metadata={"help": "AdamW beta2.", "ge": 0, "lt": 1})
    adam_epsilon: float = field(default=1e-8, metadata={"help": "AdamW epsilon.", "gt": 0})
    max_grad_norm: float = field(
        default=1.0, metadata={"help": "Gradient clipping norm; 0 = no clipping.", "ge": 0}
    )
    lr_scheduler_type: str = field(
        default="cosine", metadata={"help": "Learning-rate schedule after warmup.", "choices": LR_SCHEDULERS}
    )
    warmup_steps: int = field(
        default=0,
        metadata={"help": "Linear warmup steps; when > 0 they replace warmup_ratio. 0 = warmup_ratio of "
                  "all steps, which suits any dataset size.", "ge": 0},
    )
    warmup_ratio: float = field(
        default=0.05,
        metadata={"help": "Warmup as a share of all optimizer steps (rounded up), used when warmup_steps "
                  "is 0: a 60-step run warms up for 3 steps, a 20,000-step run for 1,000. 0 with "
                  "warmup_steps 0 = no warmup.", "ge": 0, "lt": 1},
    )
    logging_steps: int = field(default=10, metadata={"help": "Log metrics every N optimizer steps.", "ge": 1})
    eval_steps: int | None = field(
        default=None, metadata={"help": "Evaluate every N optimizer steps; null = once per epoch.", "ge": 1}
    )
    save_steps: int = field(
        default=0,
        metadata={"help": "Also checkpoint every N optimizer steps; 0 = time-based checkpoints only "
                  "(see checkpoint_minutes).", "ge": 0},
    )
    save_total_limit: int = field(
        default=3,
        metadata={"help": "Checkpoints kept; older ones are pruned, never the best or newest.", "ge": 1},
    )
    async_checkpointing: bool = field(
        default=True,
        metadata={"help": "Write checkpoints from a CPU copy in a background thread while training goes on "
                  "(the loop waits only for the copy); false = write them in the training loop. Either way "
                  "a checkpoint is published only once complete, and the run waits for it before exiting."},
    )
    seed: int = field(default=42, metadata={"help": "Random seed for data order, init and dropout.", "ge": 0})
    bf16: bool | Auto = field(
        default="auto", metadata={"help": "bfloat16 mixed precision. auto = on where the device supports it."}
    )
    gradient_checkpointing: bool | Auto = field(
        default="auto",
        metadata={"help": "Recompute activations in the backward pass to save memory. auto = on when a "
                  "micro-batch's estimated training memory (base model size from its config.json, "
                  "per_device_train_batch_size x max_seq_length tokens) would not fit in 80 % of the free "
                  "GPU memory (available RAM on CPU); with auto_find_batch_size on CUDA the memory probe "
                  "decides instead: off when at least 4,096 tokens per micro-batch fit without it. The "
                  "start-up lines say what was decided."},
    )
    optim: str = field(
        default="auto",
        metadata={"help": "Optimizer. auto = adamw_torch_fused on a GPU, adamw_torch elsewhere.",
                  "choices": OPTIMIZERS},
    )
    dataloader_num_workers: int | Auto = field(
        default="auto",
        metadata={"help": "Processes that collate the next micro-batches while the model trains (a "
                  "torch DataLoader over the epoch plan; 0 = in the training process). auto = min(4, CPU "
                  "cores - 1) with a GPU, 0 on CPU.", "ge": 0},
    )
    dataloader_pin_memory: bool | Auto = field(
        default="auto", metadata={"help": "Pin host memory for faster copies to the GPU. auto = on with a GPU."}
    )
    torch_compile: bool = field(
        default=False, metadata={"help": "Regional compile: torch.compile (inductor) on each decoder block, in "
                                 "place (same parameter names, same loss as eager). The first steps compile "
                                 "(about a minute on a small CPU); packed batches of new widths recompile "
                                 "until the width is marked dynamic."}
    )
    use_liger_kernel: bool | Auto = field(
        default="auto",
        metadata={"help": "Use Liger fused kernels (less memory, faster). auto = when the liger-kernel "
                  "package is installed and a GPU is present."},
    )
    auto_find_batch_size: bool = field(
        default=False,
        metadata={"help": "CUDA: before training, probe the model's peak memory with 1 and 2 rows of "
                  "max_seq_length tokens (the bench's memory probe) and train with the largest micro-batch "
                  "that fits 90 % of the GPU memory and divides per_device_train_batch_size x "
                  "gradient_accumulation_steps, which stays the global batch. CPU: the configured sizes "
                  "are kept (the start-up line says so)."},
    )
    load_in_4bit: bool = field(
        default=False,
        metadata={"help": "QLoRA: load the frozen base model in 4-bit NF4 (double quantisation, bf16 compute) "
                  "through bitsandbytes; LoRA, experts and routers stay fp32 under bf16 autocast. Needs a CUDA "
                  "GPU and `pip install bitsandbytes`; a clear error otherwise."},
    )
    distributed_strategy: str = field(
        default="ddp",
        metadata={"help": "With several processes (torchrun / accelerate launch): ddp replicates the model "
                  "on every rank; fsdp shards parameters, gradients and optimizer state (FSDP2 "
                  "fully_shard per decoder layer) for base models too large to replicate. One process: ignored.",
                  "choices": ["ddp", "fsdp"]},
    )
    report_to: str = field(
        default="wandb",
        metadata={"help": "Metrics logger (settings in wandb_config.json; mlflow: a local SQLite store in "
                  "output_dir/mlflow, experiment = the wandb project).", "choices": REPORTERS},
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={"help": '"latest" = newest complete checkpoint in output_dir, or a checkpoint '
                  "directory path; null = start fresh."},
    )

    # ---- Time budget and early stopping
    max_hours: float = field(
        default=12.0,
        metadata={"help": "Training time budget over all resumes; a checkpoint is saved before it runs out.",
                  "gt": 0},
    )
    checkpoint_minutes: float = field(
        default=30.0, metadata={"help": "Save a checkpoint every this many minutes of training.", "gt": 0}
    )
    early_stopping_patience: int = field(
        default=3,
        metadata={"help": "Stop after this many evaluations without improvement of the validation "
                  "loss; 0 = off.", "ge": 0},
    )
    early_stopping_threshold: float = field(
        default=0.0, metadata={"help": "Smallest loss decrease that counts as an improvement.", "ge": 0}
    )

    def __post_init__(self) -> None:
        self._resolve(fields_differing_from_default(self))
        validate_in_post_init(self)

    def _resolve(self, given: set[str]) -> None:
        """Fill in whichever of num_experts / expert_domains (and top_k) the user left out.

        Both given and different is a contradiction that ``_check`` reports; no guessing then.
        """
        if type(self.num_experts) is not int or self.num_experts < 1 or not isinstance(self.expert_domains, list):
            return
        if "expert_domains" in given and "num_experts" not in given:
            self.num_experts = len(self.expert_domains)
        elif "num_experts" in given and "expert_domains" not in given and self.num_experts != len(self.expert_domains):
            self.expert_domains = generated_expert_names(self.num_experts)
        # The default top_k of 2 would be an error with a single expert nobody asked for.
        if "top_k" not in given and type(self.top_k) is int and self.top_k > self.num_experts:
            self.top_k = self.num_experts

    @property
    def effective_batch_size(self) -> int:
        """Sequences per optimizer step on one device."""
        return self.per_device_train_batch_size * self.gradient_accumulation_steps

    def warmup_steps_for(self, total_steps: int) -> int:
        """Warmup steps of a run of ``total_steps`` optimizer steps: warmup_steps when set, else
        warmup_ratio of the total, rounded up."""
        if self.warmup_steps > 0:
            return self.warmup_steps
        return math.ceil(self.warmup_ratio * total_steps)

    @property
    def expert_index(self) -> dict[str, int]:
        """Domain name -> expert index, the explicit mapping that is saved with the model."""
        return {name: i for i, name in enumerate(self.expert_domains)}

    def _check(self, bad: set[str]) -> list[Problem]:
        """Rules that involve several fields; fields in ``bad`` already failed and are skipped."""
        problems: list[Problem] = []

        def ok(*names: str) -> bool:
            return not bad.intersection(names)

        if ok("num_experts", "expert_domains") and self.num_experts != len(self.expert_domains):
            problems.append(Problem(
                "num_experts",
                f"is {self.num_experts} but expert_domains lists {len(self.expert_domains)} names; "
                "make them match or give only expert_domains",
            ))
        if ok("top_k", "num_experts") and self.top_k > self.num_experts:
            problems.append(Problem(
                "top_k", f"{self.top_k} is larger than num_experts ({self.num_experts}); use 1..{self.num_experts}"
            ))
        if ok("topic_to_domain", "expert_domains"):
            for topic, domain in self.topic_to_domain.items():
                if not topic.strip():
                    problems.append(Problem("topic_to_domain", "has an empty topic name"))
                elif domain not in self.expert_domains:
                    problems.append(Problem(
                        "topic_to_domain",
                        f"topic {show(topic)} maps to {show(domain)}, which is not in expert_domains "
                        f"({', '.join(self.expert_domains)}){did_you_mean(domain, self.expert_domains)}",
                    ))
        if ok("max_seq_length", "max_context_length") and self.max_seq_length > self.max_context_length:
            problems.append(Problem(
                "max_seq_length",
                f"{self.max_seq_length} is larger than max_context_length ({self.max_context_length}); "
                "lower max_seq_length or raise max_context_length",
            ))
        if ok("load_in_4bit", "distributed_strategy") and self.load_in_4bit and self.distributed_strategy == "fsdp":
            problems.append(Problem("load_in_4bit", "cannot be combined with distributed_strategy fsdp (4-bit weights "
                                    "are not sharded); use ddp, or load_in_4bit false"))
        problems += self._shared_rank_problems(ok)
        if ok("max_steps") and self.max_steps == 0:
            problems.append(Problem("max_steps", "0 trains nothing; use -1 to train by num_train_epochs, or a positive step count"))
        # warmup_ratio has a non-zero default, so only a ratio the user changed contradicts steps.
        if (ok("warmup_steps", "warmup_ratio") and self.warmup_steps > 0 and self.warmup_ratio > 0
                and self.warmup_ratio != _default_of("warmup_ratio")):
            problems.append(Problem(
                "warmup_ratio",
                f"is {self.warmup_ratio:g} but warmup_steps ({self.warmup_steps}) is also set and would "
                "override it; set warmup_steps to 0 to use warmup_ratio, or leave warmup_ratio out",
            ))
        if ok("assistant_speakers", "user_speakers"):
            both = [s for s in self.assistant_speakers if s in self.user_speakers]
            if both:
                problems.append(Problem(
                    "user_speakers", f"{show(both[0])} is also in assistant_speakers; a speaker can only be in one list"
                ))
        if ok("resume_from_checkpoint") and self.resume_from_checkpoint is not None and not self.resume_from_checkpoint.strip():
            problems.append(Problem("resume_from_checkpoint", 'is empty; use "latest", a checkpoint path, or null'))
        for name in ("model_cache_dir", "dataset", "validation_dataset"):
            value = getattr(self, name)
            if ok(name) and value is not None and not value.strip():
                problems.append(Problem(name, "is empty; give a path or null"))
        return problems

    def _shared_rank_problems(self, ok) -> list[Problem]:
        rank = self.shared_expert_r
        if not ok("shared_expert_r", "shared_expert", "expert_structure", "expert_r") or rank == 0:
            return []
        if rank < 0:
            return [Problem("shared_expert_r", f"{rank} must be >= 0 (0 = expert_r)")]
        if not self.shared_expert or self.expert_structure != "independent":
            return [Problem("shared_expert_r", f"{rank} needs shared_expert true and expert_structure independent")]
        if rank % self.expert_r:
            return [Problem("shared_expert_r", f"{rank} must be a multiple of expert_r ({self.expert_r}), "
                            f"e.g. {self.expert_r * max(1, round(rank / self.expert_r))}")]
        return []

    def _suspicious(self) -> list[Problem]:
        """Settings that are valid but probably not what the user meant."""
        notes: list[Problem] = []
        if self.trust_remote_code:
            notes.append(Problem("trust_remote_code", "is true: the model repository's Python code will run on this machine"))
        if self.learning_rate > 1e-2:
            notes.append(Problem("learning_rate", f"{self.learning_rate:g} is unusually high for LoRA (typical: 1e-4 .. 1e-3)"))
        if 0 < self.max_steps <= self.warmup_steps:
            notes.append(Problem("warmup_steps", f"{self.warmup_steps} >= max_steps ({self.max_steps}): "
                                 "the learning rate never reaches its peak"))
        if self.checkpoint_minutes > self.max_hours * 60:
            notes.append(Problem("checkpoint_minutes", f"{self.checkpoint_minutes:g} is longer than max_hours "
                                 f"({self.max_hours:g} h): only the final checkpoint will be written"))
        if self.early_stopping_patience > 0 and self.validation_split == 0 and self.validation_dataset is None:
            notes.append(Problem("early_stopping_patience", f"is {self.early_stopping_patience} but there is no validation "
                                 "data (validation_split 0, no validation_dataset): evaluation and early stopping are off"))
        moe_keys = ["num_experts", "expert_domains", "top_k", "expert_r", "expert_alpha", "expert_dropout",
                    "expert_target_modules", "router_init_std", "router_lr_multiplier", "load_balancing_weight", "router_z_loss_weight",
                    "domain_routing_weight", "domain_routing_anneal_steps", "domain_routing_class_balance",
                    "topic_to_domain", "expert_init", "expert_init_std", "expert_structure", "shared_expert",
                    "shared_expert_r", "balancing", "aux_free_bias_rate", "load_balancing_warmup_steps", "dense_routing_steps",
                    "router_input"]
        if not self.use_moe:
            changed = fields_differing_from_default(self)
            ignored = [k for k in moe_keys if k in changed]
            if ignored:
                notes.append(Problem("use_moe", f"is false, so {', '.join(ignored)} "
                                     f"{'is' if len(ignored) == 1 else 'are'} ignored"))
            return notes
        if self.num_experts == 1:
            notes.append(Problem("num_experts", "is 1: there is nothing to route between"))
        elif self.top_k == self.num_experts:
            notes.append(Problem("top_k", f"equals num_experts ({self.num_experts}): every token uses every expert"))
        if self.num_experts > 1 and self.load_balancing_weight == 0 and self.balancing != "aux_free":
            notes.append(Problem("load_balancing_weight", "is 0: a few experts may end up taking all tokens"))
        changed = fields_differing_from_default(self)
        for key, mode, needed in (("expert_init_std", "expert_init", "compensated"),
                                  ("aux_free_bias_rate", "balancing", "aux_free")):
            if key in changed and getattr(self, mode) != needed:
                notes.append(Problem(key, f"is ignored: it applies only with {mode}: {needed}"))
        if self.expert_domains == generated_expert_names(self.num_experts) and self.domain_routing_weight > 0:
            notes.append(Problem("num_experts", f"without expert_domains names the experts expert_0..expert_"
                                 f"{self.num_experts - 1}; supervised domain routing only applies to samples "
                                 "whose domain label uses these names"))
        return notes


def _default_of(name: str):
    return TrainConfig.__dataclass_fields__[name].default


def generated_expert_names(count: int) -> list[str]:
    return [f"expert_{i}" for i in range(count)]
