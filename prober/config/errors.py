"""ConfigError: every problem of a config file, each naming the file, the check and the field."""

from __future__ import annotations


class ConfigError(Exception):
    """A config file that cannot be used; `problems` lists each as `file: where: field: what was expected`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
