"""Parse a fixed gate specification into one gate vector per MoE layer.

Accepted forms (``--gate``):
  uniform              1/E for every expert
  average              the validation routing recorded in training_report.json: each layer's
                       share of top-k assignments per expert
  DOMAIN               one-hot on that domain's expert (e.g. mental_health)
  0.5,0.3,0.2,0        E numbers, the same vector for every layer
  FILE.json            a JSON list of E numbers, or a list of one such list per layer
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from therapeutic_moe.errors import UserError

REPORT_FILE = "training_report.json"


def _check_row(row, num_experts: int, where: str) -> list[float]:
    if not isinstance(row, list) or len(row) != num_experts:
        raise UserError(f"{where}: expected {num_experts} gate values (one per expert), got {row!r:.120}")
    values = []
    for i, value in enumerate(row):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise UserError(f"{where}: value {i} ({value!r}) must be a finite number >= 0")
        values.append(float(value))
    if sum(values) == 0:
        raise UserError(f"{where}: every gate is 0, which is the base MLP; use --format merged for that")
    return values


def _from_report(model_dir: Path, num_layers: int, num_experts: int) -> list[list[float]]:
    path = model_dir / REPORT_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: missing, so --gate average has no recorded routing; give the gate "
                        "values explicitly (e.g. --gate uniform or --gate 0.4,0.3,0.2,0.1)") from None
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    rows = (report.get("routing") or {}).get("usage_per_layer") if isinstance(report, dict) else None
    if not rows:
        raise UserError(f"{path}: no routing.usage_per_layer (the run had no validation data); "
                        "give the gate values explicitly")
    return _per_layer(rows, num_layers, num_experts, f"{path}: routing.usage_per_layer")


def _per_layer(rows, num_layers: int, num_experts: int, where: str) -> list[list[float]]:
    if isinstance(rows, list) and rows and all(isinstance(r, (int, float)) for r in rows):
        return [_check_row(rows, num_experts, where)] * num_layers
    if not isinstance(rows, list) or len(rows) != num_layers:
        raise UserError(f"{where}: expected {num_experts} numbers or {num_layers} rows of them (one per layer)")
    return [_check_row(row, num_experts, f"{where} row {i}") for i, row in enumerate(rows)]


def parse_gates(spec: str, domains: list[str], num_layers: int, model_dir: Path) -> list[list[float]]:
    """[num_layers][num_experts] gate values for ``spec`` (see the module docstring)."""
    spec = spec.strip()
    num_experts = len(domains)
    if spec == "uniform":
        return [[1.0 / num_experts] * num_experts] * num_layers
    if spec == "average":
        return _from_report(model_dir, num_layers, num_experts)
    if spec in domains:
        return [[1.0 if d == spec else 0.0 for d in domains]] * num_layers
    if spec.endswith(".json"):
        path = Path(spec)
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"--gate {spec}: no such file") from None
        except ValueError as exc:
            raise UserError(f"{path}: not valid JSON ({exc})") from None
        return _per_layer(rows, num_layers, num_experts, str(path))
    try:
        values = [float(v) for v in spec.split(",")]
    except ValueError:
        raise UserError(f"--gate {spec!r}: use uniform, average, a domain ({', '.join(domains)}), "
                        f"{num_experts} comma-separated numbers, or a .json file") from None
    return [_check_row(values, num_experts, f"--gate {spec}")] * num_layers
