"""Counts the reliability tests report (kill points, resumes, bad inputs, fuzz examples, requests).

Each test adds to these and prints its own summary line; the conftest prints the totals at
the end of the run.
"""

from __future__ import annotations

from collections import Counter

COUNTS: Counter = Counter()


def add(name: str, n: int = 1) -> None:
    COUNTS[name] += n


def summary_line(test: str, **numbers) -> str:
    """Print and return one ``reliability[test]: key=value ...`` line."""
    line = f"reliability[{test}]: " + ", ".join(f"{k}={v}" for k, v in numbers.items())
    print(line)
    return line
