"""Import a journey script and find its journey function, what steps it declares, and whether it needs a browser.

Runs only in worker processes (and the child that `prober validate` starts): importing a script runs its code.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import sys
import textwrap
import types
import zlib
from dataclasses import dataclass

from prober.journey.api import JOURNEY_ATTR, JourneyFunction, JourneyOptions


class ScriptError(Exception):
    """A script that cannot be used: it does not import, or names no (or more than one) journey."""


@dataclass(frozen=True)
class LoadedJourney:
    """A journey function ready to run; `declared_steps` are the literal `j.step("...")` names, in order."""

    function: JourneyFunction
    uses_browser: bool
    declared_steps: tuple[str, ...]


def _import(path: str) -> types.ModuleType:
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so a script can import its helpers (`checks/_shop.py`)
    name = f"prober_journey_{zlib.crc32(path.encode()):08x}_{os.path.basename(path)[:-3]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ScriptError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        where = ""
        if isinstance(exc, SyntaxError):
            where = f" (line {exc.lineno})"
        else:
            frames = [f for f in inspect.trace() if f.filename == path]
            where = f" (line {frames[-1].lineno})" if frames else ""
        raise ScriptError(f"{os.path.basename(path)}{where}: {exc.__class__.__name__}: {exc}") from None
    return module


def _journeys(module: types.ModuleType) -> dict[str, JourneyFunction]:
    return {name: value for name, value in vars(module).items()
            if callable(value) and isinstance(getattr(value, JOURNEY_ATTR, None), JourneyOptions)
            and getattr(value, "__module__", None) == module.__name__}


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def _declared_steps(function: JourneyFunction) -> tuple[str, ...]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return ()
    steps: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "step"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            name = node.args[0].value.strip()
            if name and name not in steps:
                steps.append(name)
    return tuple(sorted(steps, key=lambda s: _position(tree, s)))


def _position(tree: ast.AST, step: str) -> tuple[int, int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() == step:
            return node.lineno, node.col_offset
    return (0, 0)


class ScriptCache:
    """Imported scripts by path, imported again when the file changes (a reload that edits a script)."""

    def __init__(self) -> None:
        self._modules: dict[str, tuple[float, types.ModuleType, set[str]]] = {}

    def load(self, path: str, function: str | None) -> LoadedJourney:
        """The journey `function` of `path` (or its only journey); raises ScriptError."""
        try:
            mtime = os.stat(path).st_mtime
        except OSError as exc:
            raise ScriptError(f"cannot read {path}: {exc.strerror}") from None
        cached = self._modules.get(path)
        if cached is None or cached[0] != mtime:
            module = _import(path)
            with open(path, "rb") as source:
                names = _names_used(compile(source.read(), path, "exec"))
            self._modules[path] = cached = (mtime, module, names)
        _mtime, module, names = cached
        found = _journeys(module)
        base = os.path.basename(path)
        if function is not None:
            if function not in found:
                known = ", ".join(found) or "none"
                raise ScriptError(f"{base}: no @journey function named {function!r} (found: {known})")
            chosen = found[function]
        elif len(found) == 1:
            chosen = next(iter(found.values()))
        else:
            raise ScriptError(f"{base}: {len(found)} @journey functions ({', '.join(found) or 'none'}); "
                              f"pick one with `script: {base}:name`" if found else f"{base}: no @journey function")
        options: JourneyOptions = getattr(chosen, JOURNEY_ATTR)
        uses_browser = options.browser
        if uses_browser is None:
            uses_browser = "page" in names
        return LoadedJourney(chosen, uses_browser, _declared_steps(chosen))
