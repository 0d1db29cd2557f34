"""Modules that must not import each other (an import circle makes the load order matter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "therapeutic_moe"


def imported_modules(path: Path) -> set[str]:
    """Every ``therapeutic_moe.*`` module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("therapeutic_moe"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("therapeutic_moe"))
    return found


def test_safety_bridge_and_assistant_do_not_import_each_other():
    bridge = imported_modules(PACKAGE / "inference" / "safety_bridge.py")
    replies = imported_modules(PACKAGE / "inference" / "replies.py")
    assert "therapeutic_moe.inference.assistant" not in bridge | replies
    assert "therapeutic_moe.inference.safety_bridge" in imported_modules(PACKAGE / "inference" / "assistant.py")


def test_moe_package_does_not_import_the_kernels():
    """The fast path plugs into the MoE layer (an operator), never the other way round."""
    for path in (PACKAGE / "moe").glob("*.py"):
        assert not any(m.startswith("therapeutic_moe.kernels") for m in imported_modules(path)), path.name


def test_train_script_is_the_cli_train_command():
    out = subprocess.run([sys.executable, str(REPO_ROOT / "train_moe_h100.py"), "--help"], capture_output=True,
                         text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    assert "usage: therapeutic-moe train" in out.stdout


def test_pipeline_scripts_and_probes_answer_help():
    """scripts/ holds pipeline stages, dev/ one-off probes, bench/ benchmarks: each says what it does."""
    for script in ("scripts/quality_report.py", "scripts/domain_probe.py", "scripts/routing_ladder.py", "dev/probes.py",
                   "dev/router_gradients.py", "bench/cpu_step_time.py"):
        out = subprocess.run([sys.executable, str(REPO_ROOT / script), "--help"], capture_output=True, text=True,
                             timeout=120, cwd=REPO_ROOT)
        assert out.returncode == 0 and "usage:" in out.stdout, (script, out.stderr[-500:])


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


def test_no_two_modules_import_each_other():
    """Across the whole package (a package's __init__ re-exporting its own modules aside)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    imports = {name: {m for m in imported_modules(path) if m in files} for name, path in files.items()}
    circles = sorted((a, b) for a, targets in imports.items() for b in targets
                     if a < b and a in imports[b] and not (b.startswith(a + ".") or a.startswith(b + ".")))
    assert circles == []
