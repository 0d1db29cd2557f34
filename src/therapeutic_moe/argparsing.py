"""The argument parser every command uses: both option spellings, one way of showing defaults.

Light on purpose (standard library only): the parsers of all commands are built for
``therapeutic-moe --help``, which must not pay for importing torch.
"""

from __future__ import annotations

import argparse


def other_spellings(option: str) -> list[str]:
    """``--output_dir`` -> ``["--output-dir"]`` and back; short and plain options have none."""
    if not option.startswith("--"):
        return []
    body = option[2:]
    spellings = {"--" + body.replace("_", "-"), "--" + body.replace("-", "_")}
    spellings.discard(option)
    return sorted(spellings)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps one-line descriptions, keeps multi-line ones (epilogs with examples) as written,
    and appends ``(default: X)`` only to help texts that do not already state their default."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS):
            return text
        if not action.option_strings or action.nargs == 0:
            return text
        return f"{text} (default: %(default)s)"


class CommandParser(argparse.ArgumentParser):
    """``ArgumentParser`` that accepts ``--snake_case`` and ``--kebab-case`` for every long option.

    Help shows the spelling the option was declared with; the other one is accepted too.
    Abbreviated options are refused: with two spellings per option a prefix is often
    ambiguous, and ``train`` hands unknown options to the config, where a prefix would be
    silently taken for a different key. Sub-command parsers inherit this class.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def add_spelling_aliases(self) -> None:
        """Register the other spelling of every long option (idempotent)."""
        for action in self._actions:
            for option in action.option_strings:
                for alias in other_spellings(option):
                    self._option_string_actions.setdefault(alias, action)

    def parse_known_args(self, args=None, namespace=None):
        # Aliases are added just before parsing, so options added after construction
        # (argument groups, register() of each command) are all covered.
        self.add_spelling_aliases()
        return super().parse_known_args(args, namespace)
