"""Plain-text tables and the per-shape summary (speed-ups, expert overhead, memory, targets)."""

from __future__ import annotations

SPEEDUP_TARGET = 1.4  # ours with 4 experts vs the faster baseline
EXPERT_OVERHEAD_TARGET = 0.10  # ours_e4 vs ours without experts

COLUMNS = ("shape", "variant", "batch", "ckpt", "step ms", "tok/s", "MFU", "peak GiB", "GiB/seq", "check")
WIDTHS = (9, 30, 5, 4, 9, 9, 6, 8, 7, 34)


def _fmt(values) -> str:
    return "  ".join(str(v)[:w].ljust(w) if i < 2 else str(v)[:w].rjust(w)
                     for i, (v, w) in enumerate(zip(values, WIDTHS))).rstrip()


def header() -> str:
    return _fmt(COLUMNS)


def _check_text(row: dict) -> str:
    check = row.get("check")
    if not check:
        return ""
    # Against the fp32 reference; in brackets the plain bf16 path's own distance to it.
    return (f"{'ok' if check['ok'] else 'FAIL'} dL={check['rel_diff']:.0e} cos={check['grad_cosine']:.4f}"
            f" ({check['reference_grad_cosine']:.4f})")


def row_line(row: dict) -> str:
    name = f"{row['shape']}@{row['seq']}"
    if "error" in row or "skipped" in row:
        return _fmt((name, row["variant"])) + "  " + ("ERROR " + row["error"] if "error" in row else "skipped: " + row["skipped"])
    return _fmt((
        name, row["variant"], row["batch"], "yes" if row.get("checkpointing") else "no",
        f"{row['step_ms']:.1f}", f"{row['tokens_per_s']:,.0f}", f"{row['mfu'] * 100:.1f}%",
        f"{row['peak_gib']:.1f}" if "peak_gib" in row else "-",
        f"{row['memory_per_sequence_gib']:.2f}" if "memory_per_sequence_gib" in row else "-",
        _check_text(row),
    ))


def _ok(row: dict) -> bool:
    return "tokens_per_s" in row


def summarize(results: list[dict]) -> dict:
    """Per shape@seq: best baseline, speed-up of each of ours, expert overhead, memory, targets."""
    groups: dict[str, dict[str, dict]] = {}
    for row in results:
        if _ok(row):
            groups.setdefault(f"{row['shape']}@{row['seq']}", {})[row["variant"]] = row
    out = {}
    for key, rows in groups.items():
        entry: dict = {}
        baselines = [rows[v] for v in ("plain", "liger") if v in rows]
        if baselines:
            best = max(baselines, key=lambda r: r["tokens_per_s"])
            entry["best_baseline"] = {"variant": best["variant"], "tokens_per_s": best["tokens_per_s"]}
            entry["speedup_vs_best_baseline"] = {v: r["tokens_per_s"] / best["tokens_per_s"]
                                                 for v, r in rows.items() if v.startswith("ours")}
        if "ours" in rows:
            for v in ("ours_e4", "ours_e8"):
                if v in rows:
                    entry[f"expert_overhead_{v}"] = 1 - rows[v]["tokens_per_s"] / rows["ours"]["tokens_per_s"]
        plain = rows.get("plain")
        if plain and "memory_per_sequence_gib" in plain:
            # Peak memory compared like for like: at the plain setup's batch size and with its
            # gradient-checkpointing setting (ours also probes that setting where it differs).
            at = {}
            for v, r in rows.items():
                suffix = "_ckpt" if plain.get("checkpointing") and not r.get("checkpointing") else ""
                per, fixed = r.get(f"memory_per_sequence{suffix}_gib"), r.get(f"memory_fixed{suffix}_gib")
                if per is not None and fixed is not None:
                    at[v] = fixed + per * plain["batch"]
            entry["peak_gib_at_plain_batch"] = {"batch": plain["batch"], "checkpointing": bool(plain.get("checkpointing")), **at}
        targets = {}
        if "speedup_vs_best_baseline" in entry and "ours_e4" in rows:
            targets[f"ours_e4 >= {SPEEDUP_TARGET}x best baseline"] = entry["speedup_vs_best_baseline"]["ours_e4"] >= SPEEDUP_TARGET
        if "expert_overhead_ours_e4" in entry:
            targets["expert overhead <= 10%"] = entry["expert_overhead_ours_e4"] <= EXPERT_OVERHEAD_TARGET
        mem = entry.get("peak_gib_at_plain_batch", {})
        if "ours_e4" in mem and "plain" in mem:
            targets["ours_e4 memory <= plain (same batch)"] = mem["ours_e4"] <= mem["plain"]
        if targets:
            entry["targets"] = targets
        out[key] = entry
    return out


def format_table(result: dict) -> str:
    env = result.get("environment", {})
    versions = env.get("versions", {})
    lines = [f"{env.get('date', '')} | {env.get('device', '')} | " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
             header()]
    lines += [row_line(row) for row in result.get("results", [])]
    summary = result.get("summary") or {}
    if summary:
        lines.append("")
        for key, entry in summary.items():
            parts = []
            if "best_baseline" in entry:
                parts.append(f"best baseline {entry['best_baseline']['variant']} "
                             f"{entry['best_baseline']['tokens_per_s']:,.0f} tok/s")
            for v, s in entry.get("speedup_vs_best_baseline", {}).items():
                parts.append(f"{v} {s:.2f}x")
            for v in ("ours_e4", "ours_e8"):
                if f"expert_overhead_{v}" in entry:
                    parts.append(f"{v} overhead {entry[f'expert_overhead_{v}'] * 100:.1f}%")
            mem = entry.get("peak_gib_at_plain_batch")
            if mem:
                parts.append(f"GiB at batch {mem['batch']}{' (ckpt)' if mem['checkpointing'] else ''}: " + ", ".join(
                    f"{v} {g:.1f}" for v, g in mem.items() if v not in ("batch", "checkpointing")))
            lines.append(f"{key}: " + "; ".join(parts))
            for name, passed in entry.get("targets", {}).items():
                lines.append(f"    target {name}: {'met' if passed else 'MISSED'}")
    real = result.get("real_data")
    if real:
        lines.append("")
        lines.append(format_real_data(real))
    return "\n".join(lines)


def format_real_data(real: dict) -> str:
    if "skipped" in real:
        return f"real data: skipped: {real['skipped']}"
    lines = [f"real data ({real.get('description', '')}): useful = trained (non-padding, labelled) tokens",
             "shape      setup                          batching    rows x len  slot eff  useful tok/s  all tok/s"]
    for row in real.get("rows", []):
        if "error" in row:
            lines.append(f"{row['shape']:<10} {row['setup']:<30} ERROR {row['error']}")
            continue
        lines.append(f"{row['shape']:<10} {row['setup']:<30} {row['batching']:<11} {row['rows_x_len']:>10}  "
                     f"{row['slot_efficiency'] * 100:7.1f}%  {row['useful_tokens_per_s']:12,.0f}  "
                     f"{row['tokens_per_s']:9,.0f}")
    for key, value in real.get("speedups", {}).items():
        lines.append(f"{key}: ours (packing) useful tok/s = {value:.2f}x the user's usual setup")
    return "\n".join(lines)
