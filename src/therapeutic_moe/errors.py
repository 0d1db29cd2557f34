"""One error type for everything a user can fix.

The CLI turns a ``UserError`` into a single line on stderr and exit code 2, never a
traceback. Subclasses exist so tests and callers can tell the area apart.
"""


class UserError(Exception):
    """Bad input a person can fix: the message names the file/field/index and the fix."""

    exit_code = 2


class ConfigError(UserError):
    """A config file or CLI flag is unknown, of the wrong type, or contradicts another."""


class DataError(UserError):
    """A dataset file is missing, malformed, or holds something the pipeline cannot use."""


class ModelDirError(UserError):
    """A base model or trained model directory is missing, incomplete or mismatched."""


class TrainingHalted(Exception):
    """Training stopped on purpose (NaN/inf, signal); carries the exit code to use."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
