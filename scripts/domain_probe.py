"""How well can a router of our form tell the domains apart? A ceiling for supervised routing.

    python scripts/domain_probe.py --config configs/experiments/moe_supervised.json [--out probe.json]

Takes the training and validation examples exactly as the trainer prepares them (same topic
map, chat template, PII scrubbing), runs the frozen base model once, and for a few layers fits
a probe with the router's form on the frozen hidden states: per-token linear map -> softmax ->
mean over the sample's tokens -> class-balanced cross-entropy with the domain label. It also
fits a bag-of-words logistic regression on the token ids (a text-only reference). Reported:
validation accuracy and balanced accuracy per layer. A trained model can also reshape its
hidden states (LoRA on attention, experts below), so this is a reference, not a hard bound;
label noise (a question about depression in a marriage) bounds every method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def fit_router_probe(feats, sample_ids, labels, n_samples, num_classes, weights, steps=300, lr=1e-2, wd=1e-4):
    """feats [N, d] per-token features, sample_ids [N] -> a [C, d] probe (fp32, full batch Adam),
    trained with the trainer's own supervised routing loss."""
    from therapeutic_moe.moe.losses import domain_routing_loss, sample_mean_probs

    torch.manual_seed(0)
    w = torch.zeros(num_classes, feats.shape[1], device=feats.device, requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr, weight_decay=wd)
    for _ in range(steps):
        mean = sample_mean_probs((feats @ w.t()).softmax(-1), sample_ids, n_samples)
        loss = domain_routing_loss(mean, labels, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach()


def router_predict(w, feats, sample_ids, n_samples):
    from therapeutic_moe.moe.losses import sample_mean_probs

    return sample_mean_probs((feats @ w.t()).softmax(-1), sample_ids, n_samples).argmax(-1)


def scores(pred, labels, num_classes) -> dict:
    acc = float((pred == labels).float().mean())
    per_class = [float((pred[labels == c] == c).float().mean()) for c in range(num_classes) if (labels == c).any()]
    return {"accuracy": acc, "balanced_accuracy": sum(per_class) / len(per_class)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="training config with dataset, validation_dataset, topic_to_domain")
    parser.add_argument("--dataset", default=None, help="override the config's training data")
    parser.add_argument("--validation_dataset", default=None, help="override the config's validation data")
    parser.add_argument("--max_hours", default=None, help="override max_hours (only so that a short experiment "
                        "config's time margin passes validation; the probe trains nothing)")
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    parser.add_argument("--layers", default="0,4,8,12,16,20,24,28,30",
                        help="hidden-state indices to probe (0 = embeddings; default: %(default)s)")
    args = parser.parse_args(argv)

    from therapeutic_moe.config.run_config import load_run_config
    from therapeutic_moe.data.prepare import prepare_datasets
    from therapeutic_moe.modeling.base_model import load_base_model, load_tokenizer, resolve_base_model
    from therapeutic_moe.moe.losses import domain_class_weights

    overrides = {k: v for k, v in (("dataset", args.dataset), ("validation_dataset", args.validation_dataset),
                                   ("max_hours", args.max_hours)) if v}
    run = load_run_config(args.config, None, None, overrides)
    cfg = run.train
    resolved = resolve_base_model(cfg.base_model)
    tokenizer = load_tokenizer(resolved)
    data = prepare_datasets(cfg, run.safety, tokenizer)
    train = [e for e in data.train if e.domain >= 0]
    val = [e for e in data.val if e.domain >= 0]
    E = len(cfg.expert_domains)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = load_base_model(resolved, dtype=dtype, device=device).eval()
    layers = [int(x) for x in args.layers.split(",") if int(x) <= model.config.num_hidden_layers]
    t0 = time.time()

    def features(examples):
        per_layer = {i: [] for i in layers}
        ids, bows = [], torch.zeros(len(examples), model.config.vocab_size)
        with torch.no_grad():
            for s, ex in enumerate(examples):
                x = torch.tensor([ex.input_ids], device=device)
                hs = model(input_ids=x, output_hidden_states=True).hidden_states
                for i in layers:
                    per_layer[i].append(hs[i][0].to(dtype))
                ids.append(torch.full((x.shape[1],), s, dtype=torch.long))
                bows[s].index_add_(0, torch.tensor(ex.input_ids), torch.ones(len(ex.input_ids)))
        return ({i: torch.cat(v).float() for i, v in per_layer.items()}, torch.cat(ids).to(device),
                torch.tensor([ex.domain for ex in examples], device=device), bows)

    tr_f, tr_ids, tr_y, tr_bow = features(train)
    va_f, va_ids, va_y, va_bow = features(val)
    weights = domain_class_weights(tr_y.tolist(), E, device)
    result = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
              "train_samples": len(train), "val_samples": len(val), "expert_domains": list(cfg.expert_domains),
              "val_label_counts": [int((va_y == c).sum()) for c in range(E)],
              "majority_baseline": float((va_y == torch.bincount(tr_y, minlength=E).argmax()).float().mean()),
              "router_probe": {}}
    for i in layers:
        mu, sd = tr_f[i].mean(0), tr_f[i].std(0) + 1e-5  # standardise: the residual stream has huge outlier dims
        w = fit_router_probe((tr_f[i] - mu) / sd, tr_ids, tr_y, len(train), E, weights)
        pred = router_predict(w, (va_f[i] - mu) / sd, va_ids, len(val))
        result["router_probe"][str(i)] = scores(pred, va_y, E)
        print(f"layer {i:>2}: {result['router_probe'][str(i)]}", flush=True)
    # bag of words: log(1 + count), logistic regression, class-balanced
    xb_tr, xb_va = tr_bow.log1p().to(device), va_bow.log1p().to(device)
    one = torch.arange(len(train), device=device)
    w = fit_router_probe(xb_tr, one, tr_y, len(train), E, weights, steps=300, lr=1e-2, wd=1e-3)
    pred = router_predict(w, xb_va, torch.arange(len(val), device=device), len(val))
    result["bag_of_words"] = scores(pred, va_y, E)
    result["seconds"] = round(time.time() - t0, 1)
    print(f"bag of words: {result['bag_of_words']}; majority class: {result['majority_baseline']:.3f}")
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
