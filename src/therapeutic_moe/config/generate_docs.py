"""Regenerate the configuration reference from the dataclasses.

Run from the repository root after changing a field or its help text::

    python -m therapeutic_moe.config.generate_docs .

It rewrites the block between the markers in ``docs/configuration.md`` and the commented
examples ``configs/examples/{moe_training,wandb,safety}_config.jsonc``; a test fails when
they are out of date.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from therapeutic_moe.config.describe import jsonc_example, markdown_reference
from therapeutic_moe.config.safety_config import SafetyConfig
from therapeutic_moe.config.train_config import TrainConfig
from therapeutic_moe.config.wandb_config import WandbConfig

DOC_PATH = Path("docs") / "configuration.md"
DOC_BEGIN = "<!-- BEGIN GENERATED: python -m therapeutic_moe.config.generate_docs . -->"
DOC_END = "<!-- END GENERATED -->"
EXAMPLES = {
    Path("configs") / "examples" / "moe_training_config.jsonc": TrainConfig,
    Path("configs") / "examples" / "wandb_config.jsonc": WandbConfig,
    Path("configs") / "examples" / "safety_config.jsonc": SafetyConfig,
}


def update_docs(text: str) -> str:
    """``text`` of docs/configuration.md with the generated block replaced."""
    start, end = text.index(DOC_BEGIN) + len(DOC_BEGIN), text.index(DOC_END)
    return text[:start] + "\n\n" + markdown_reference() + "\n" + text[end:]


def expected_files(root: Path) -> dict[Path, str]:
    """Path -> the text it should hold (the docs page keeps its hand-written parts)."""
    doc = root / DOC_PATH
    expected = {doc: update_docs(doc.read_text(encoding="utf-8"))}
    expected.update({root / rel: jsonc_example(cls) for rel, cls in EXAMPLES.items()})
    return expected


def write_generated(root: Path) -> list[Path]:
    """Regenerate the docs tables and the per-file example configs under ``root``."""
    written = []
    for path, text in expected_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the configuration reference tables and examples.")
    parser.add_argument("root", type=Path, help="repository root (holds docs/ and configs/)")
    args = parser.parse_args(argv)
    for path in write_generated(args.root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
