"""The training guide's quality targets, checked against measured numbers.

The guide states them for its four-expert setup: loss < 1.5, perplexity < 2.5, every expert
at 20-30 % of the routing, routing entropy > 1.0 nats. With E experts other than four the
balance band is scaled to the same relative band around 1/E (0.8/E .. 1.2/E) and the
target says so; nothing is quietly relaxed.
"""

from __future__ import annotations

LOSS_TARGET = 1.5
PPL_TARGET = 2.5
ENTROPY_TARGET = 1.0
BALANCE_BAND_4 = (0.20, 0.30)


def _row(name: str, target: str, value, passed: bool | None, note: str = "") -> dict:
    row = {"metric": name, "target": target, "value": value,
           "status": "n/a" if passed is None else ("pass" if passed else "miss")}
    if note:
        row["note"] = note
    return row


def check_targets(loss: float | None, perplexity: float | None, usage_overall: list[float] | None,
                  routing_entropy: float | None, no_routing_note: str = "model has no experts") -> list[dict]:
    """One row per guide target: measured value and pass / miss (n/a when not measured)."""
    rows = [
        _row("loss", f"< {LOSS_TARGET}", loss, None if loss is None else loss < LOSS_TARGET),
        _row("perplexity", f"< {PPL_TARGET}", perplexity, None if perplexity is None else perplexity < PPL_TARGET),
    ]
    if usage_overall:
        e = len(usage_overall)
        low, high = BALANCE_BAND_4 if e == 4 else (0.8 / e, 1.2 / e)
        note = "" if e == 4 else f"guide band 20-30 % is for 4 experts; scaled to 0.8/E..1.2/E for E={e}"
        passed = all(low <= share <= high for share in usage_overall)
        rows.append(_row("expert share (each expert)", f"{low:.0%}-{high:.0%}",
                         [round(share, 4) for share in usage_overall], passed, note))
    else:
        rows.append(_row("expert share (each expert)", "20%-30%", None, None, no_routing_note))
    rows.append(_row("routing entropy (nats)", f"> {ENTROPY_TARGET}", routing_entropy,
                     None if routing_entropy is None else routing_entropy > ENTROPY_TARGET))
    return rows
