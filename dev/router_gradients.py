"""How much gradient do the routers get from the LM loss, and how much from the balance loss?

    python dev/router_gradients.py --model tiny --steps 20
    python dev/router_gradients.py --model default --data ../shared/data/counselchat_train.json --steps 5 \
        --expert_init compensated

For each of the first optimizer steps it prints the norm (over all layers' routers) of the
gradient of the LM loss and of the weighted load-balancing loss (load_balancing_weight x LB),
each taken alone, then takes an AdamW step on the full training loss (LM + balance + z-loss).
Batches: random tokens (tiny model) or conversations of a counsel-chat style JSON file, as
plain text cut to --seq_len tokens, the LM loss on every token (a probe, not the trainer's
data path). One-off probe of the issue "routing that learns"; results in docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings

import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore")


def build(args):
    from therapeutic_moe.config import TrainConfig
    from therapeutic_moe.modeling import build_model, wrap_model

    recipe = dict(expert_init=args.expert_init, lora_dropout=0.0)
    if args.model == "default":
        model, tokenizer = build_model(TrainConfig(**recipe))
        return model, tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True))
    for p in base.parameters():
        p.requires_grad_(False)
    return wrap_model(base, TrainConfig(**recipe), "tiny"), None


def batches(args, tokenizer):
    gen = torch.Generator().manual_seed(args.seed)
    if tokenizer is None:
        while True:
            yield torch.randint(0, 128, (args.batch, args.seq_len), generator=gen)
    texts = [c["text"] for c in json.loads(open(args.data, encoding="utf-8").read())["conversations"]]
    random.Random(args.seed).shuffle(texts)
    rows = [tokenizer(t, truncation=True, max_length=args.seq_len)["input_ids"] for t in texts]
    rows = [r for r in rows if len(r) >= args.seq_len // 2]
    for i in range(0, len(rows) - args.batch, args.batch):
        width = min(len(r) for r in rows[i:i + args.batch])
        yield torch.tensor([r[:width] for r in rows[i:i + args.batch]])


def losses(model, ids):
    ctx = model.context
    ctx.begin()
    hidden = model.base.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state
    ctx.end()
    logits = model.base.get_output_embeddings()(hidden[:, :-1]).float()
    lm = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    terms = list(ctx.aux.values())
    lb = torch.stack([t[0] for t in terms]).mean()
    z = torch.stack([t[1] for t in terms]).mean()
    return lm, lb, z


def grad_norm(loss, params) -> float:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return float(torch.stack([g.norm() if g is not None else torch.zeros(()) for g in grads]).norm())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "default"], default="tiny")
    parser.add_argument("--data", help="counsel-chat style JSON (default model only)")
    parser.add_argument("--expert_init", choices=["zero", "compensated"], default="zero")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq_len", type=int, default=512)
    parser.add_argument("--lr", type=float, default=3e-4, help="AdamW learning rate (the trainer's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.model == "default" and not args.data:
        parser.error("--model default needs --data")
    from therapeutic_moe.moe.balance import after_optimizer_step

    model, tokenizer = build(args)
    model.train()
    cfg = model.moe_config
    routers = [layer.router.weight for layer in model.moe_layers]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    print(f"model={args.model} expert_init={args.expert_init} load_balancing_weight={cfg.load_balancing_weight} "
          f"lr={args.lr} batch={args.batch}x{args.seq_len}")
    print("step  |grad LM|   |grad w*LB|  ratio LM/LB  LM loss  LB     s")
    data = batches(args, tokenizer)
    for step in range(args.steps):
        start = time.perf_counter()
        ids = next(data)
        lm, lb, z = losses(model, ids)
        g_lm = grad_norm(lm, routers)
        g_lb = grad_norm(cfg.load_balancing_weight * lb, routers)
        (lm + cfg.load_balancing_weight * lb + cfg.router_z_loss_weight * z).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        after_optimizer_step(model)
        model.context.clear()
        ratio = g_lm / g_lb if g_lb > 0 else float("inf")
        print(f"{step:>4}  {g_lm:.3e}   {g_lb:.3e}    {ratio:10.3g}  {float(lm):7.3f}  {float(lb):.4f} "
              f"{time.perf_counter() - start:5.1f}", flush=True)


if __name__ == "__main__":
    main()
