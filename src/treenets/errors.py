"""One error type for bad input, printed by the CLI as a single line."""

from __future__ import annotations

import os


class InputError(Exception):
    """Bad user input (a file, a config value, a sentence).

    Rendered as ``path:line: message`` (or ``path: message`` / ``message``) so the CLI can print
    exactly one line that tells the user where to look. Raise it at the edge where the file and
    line are known; deeper code raises ``InputError(message)`` and readers re-raise with a location
    through :meth:`at`.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.line = line

    def at(self, path: str | os.PathLike, line: int | None = None) -> "InputError":
        """The same error, located in ``path`` (and ``line``) unless it already has a location."""
        if self.path is not None:
            return self
        return type(self)(self.message, path, line if line is not None else self.line)

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"
