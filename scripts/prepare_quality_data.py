"""Lay out the public therapy datasets for the quality comparison (docs/results.md).

    python scripts/prepare_quality_data.py PATH/TO/shared/data [--out .carry/q/data] [--hold-out-long 6]

Writes (the output folder is git-ignored; the datasets are never committed):
  train/counselchat_train.json  counsel-chat train, as given
  train/annomi_high.json        AnnoMI high-quality sessions minus the held-out long ones
  val/counselchat_val.json      counsel-chat val (selection and the main table)
  long_eval.json                the N longest AnnoMI high sessions + all AnnoMI low sessions,
                                never trained on: perplexity by context length up to 8192
The longest sessions are held out because only they reach 4k-8k tokens; training uses
2,048-token windows, so the long-context numbers measure length generalisation on unseen text.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder with counselchat_{train,val}.json and annomi_{high,low}.json")
    parser.add_argument("--out", type=Path, default=Path(".carry/q/data"), help="output folder (default: %(default)s)")
    parser.add_argument("--hold-out-long", type=int, default=6,
                        help="how many of the longest AnnoMI high sessions to keep out of training (default: %(default)s)")
    args = parser.parse_args(argv)
    names = ["counselchat_train.json", "counselchat_val.json", "annomi_high.json", "annomi_low.json"]
    missing = [n for n in names if not (args.source / n).is_file()]
    if missing:
        print(f"error: {args.source}: missing {', '.join(missing)}; give the folder that holds the four "
              "dataset files", file=sys.stderr)
        return 2
    for sub in ("train", "val"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.source / names[0], args.out / "train" / names[0])
    shutil.copyfile(args.source / names[1], args.out / "val" / names[1])
    high = json.loads((args.source / names[2]).read_text(encoding="utf-8"))["conversations"]
    low = json.loads((args.source / names[3]).read_text(encoding="utf-8"))["conversations"]
    order = sorted(range(len(high)), key=lambda i: -len(high[i]["text"]))
    held = set(order[:args.hold_out_long])
    keep = [c for i, c in enumerate(high) if i not in held]
    long_eval = [high[i] for i in order[:args.hold_out_long]] + low
    (args.out / "train" / names[2]).write_text(json.dumps({"conversations": keep}), encoding="utf-8")
    (args.out / "long_eval.json").write_text(json.dumps({"conversations": long_eval}), encoding="utf-8")
    print(f"train: {args.out / 'train'} (counsel-chat train + {len(keep)} AnnoMI high sessions); "
          f"val: {args.out / 'val'}; long_eval.json: {len(held)} held-out AnnoMI high (longest, "
          f"{min(len(high[i]['text']) for i in held) if held else 0}+ characters) + {len(low)} AnnoMI low")
    return 0


if __name__ == "__main__":
    sys.exit(main())
