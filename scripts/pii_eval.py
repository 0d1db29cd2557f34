"""Print the PII tables of docs/safety.md: recall on planted identifiers (development and
held-out sets, and the blind set written apart from the scrubber) per Safe Harbor family, the
blind set's clean lines altered, and how many clean real client lines the scrubber alters.

    python scripts/pii_eval.py                  # the tables
    python scripts/pii_eval.py --show-misses    # also the planted identifiers that survived
    python scripts/pii_eval.py --show-altered   # also the altered real lines (terminal only, to audit by eye)

Real client text (AnnoMI client turns, counsel-chat questions) is read from ../shared/data
when present and never stored.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from therapeutic_moe.data.pii import PiiScrubber
from therapeutic_moe.data.pii_planted import MARK, DEV, HELDOUT, SCRUBBER_KIND, planted

DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "therapeutic_moe" / "data"
# Written apart from the scrubber, in this order; each scored once at first, and its misses were
# read afterwards, so only the newest (pii_blind14) is still blind (docs/safety.md).
BLIND_FILES = (DATA_DIR / "pii_blind.json", DATA_DIR / "pii_blind2.json", DATA_DIR / "pii_blind3.json",
               DATA_DIR / "pii_blind4.json", DATA_DIR / "pii_blind5.json", DATA_DIR / "pii_blind6.json",
               DATA_DIR / "pii_blind7.json", DATA_DIR / "pii_blind8.json", DATA_DIR / "pii_blind9.json",
               DATA_DIR / "pii_blind10.json", DATA_DIR / "pii_blind11.json",
               DATA_DIR / "pii_blind12.json", DATA_DIR / "pii_blind13.json",
               DATA_DIR / "pii_blind14.json")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safety_eval import real_client_texts  # noqa: E402  (the same real texts as the crisis audit)

_TOKEN = re.compile(r"[^\W_]{2,}")
# Words inside an identifier that say what it is rather than who: they may stay.
_GENERIC = {"dot", "at", "com", "ext", "street", "road", "flat", "apartment", "county", "the", "of", "de", "des",
            "via", "rue", "calle", "dr", "sn", "https", "www", "org", "net", "and", "ms", "mr",
            "auntie", "aunty", "uncle"}


def caught(value: str, scrubbed: str, rest: str = "") -> bool:
    """An identifier is caught when none of its telling parts is left in the scrubbed line.
    A part that the line also holds outside the identifier ("My facebook is facebook.com/jo.m",
    "my PO box, PO Box 33") cannot tell whether the identifier stayed, so it is not counted;
    ``rest`` is the line with the identifier taken out (empty: count every part, as before
    2026-12-03)."""
    elsewhere = set(_TOKEN.findall(rest))
    parts = [t for t in _TOKEN.findall(value) if t.lower() not in _GENERIC and t not in elsewhere]
    left = set(_TOKEN.findall(scrubbed))
    return not any(p in left for p in parts)


def line_without(line: str, value: str) -> str:
    """The marked line with this identifier's marker removed and every other one filled in."""
    marker = next(m.group(0) for m in MARK.finditer(line) if m.group(2) == value)
    return planted(line.replace(marker, "", 1))[0]


def planted_table(name: str, lines: list[str], show: bool) -> list[str]:
    found, total = Counter(), Counter()
    for line in lines:
        text, marks = planted(line)
        out = PiiScrubber().scrub(text)
        for kind, value in marks:
            total[kind] += 1
            if caught(value, out, line_without(line, value)):
                found[kind] += 1
            elif show:
                print(f"  MISS [{name} {kind}] {value!r} in: {out}")
    rows = [f"| family (scrubber kind) | {name} found | recall |", "|---|---|---|"]
    for kind in sorted(total):
        rows.append(f"| {kind} ({SCRUBBER_KIND[kind]}) | {found[kind]}/{total[kind]} | {found[kind] / total[kind]:.3f} |")
    rows.append(f"| **all** | {sum(found.values())}/{sum(total.values())} | "
                f"**{sum(found.values()) / sum(total.values()):.3f}** |")
    return rows


def clean_lines_table(lines: list[str], show: bool) -> list[str]:
    """Lines with no identifier of the person (public figures, brands, places): how many change."""
    altered = [(line, out) for line in lines if (out := PiiScrubber().scrub(line)) != line]
    if show:
        for line, out in altered:
            print(f"  ALTERED [clean blind line] {out}")
    return [f"clean blind lines altered: {len(altered)} of {len(lines)} ({len(altered) / len(lines):.3f})"]


def real_table(show: bool) -> list[str]:
    texts = real_client_texts()
    if not texts:
        return ["(no real data beside the project: skipped)"]
    rows = ["| source | lines | altered | rate | by kind |", "|---|---|---|---|---|"]
    for name, lines in texts.items():
        scrubber = PiiScrubber()
        altered = 0
        for line in lines:
            out = scrubber.scrub(line)
            if out != line:
                altered += 1
                if show:
                    print(f"  ALTERED [{name}] {out[:300]}")
        kinds = ", ".join(f"{k} {v}" for k, v in scrubber.counts.most_common())
        rows.append(f"| {name} | {len(lines)} | {altered} | {altered / len(lines):.4f} | {kinds} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show-misses", action="store_true", help="print planted identifiers that were not scrubbed")
    parser.add_argument("--show-altered", action="store_true", help="print altered real lines to the terminal")
    args = parser.parse_args(argv)
    print("## Planted identifiers, development set\n")
    print("\n".join(planted_table("dev", DEV, args.show_misses)))
    print("\n## Planted identifiers, held-out set\n")
    print("\n".join(planted_table("held-out", HELDOUT, args.show_misses)))
    for path in BLIND_FILES:
        blind = json.loads(path.read_text(encoding="utf-8"))
        print(f"\n## Planted identifiers, blind set ({path.name})\n")
        print("\n".join(planted_table(path.stem, blind["planted"], args.show_misses)))
        print()
        print("\n".join(clean_lines_table(blind["clean"], args.show_misses)))
    print("\n## Real client lines altered\n")
    print("\n".join(real_table(args.show_altered)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
