"""Runs inside the worker: watches every torch call student code makes during one
exercise call and records the first banned one (a routine the exercise must write itself,
or autograd where the exercise does not allow it).

The guard is a `TorchFunctionMode`, so it sees `F.softmax(x)`, `torch.softmax(x)` and
`x.softmax()` alike, and it only records: catching the exception it raises does not
help student code, the worker reports the recorded call afterwards.
"""

from __future__ import annotations

import ast
import importlib
from functools import lru_cache

import torch
from torch.overrides import TorchFunctionMode

from grader.guard_names import AUTOGRAD

class BannedCall(RuntimeError):
    """Raised inside student code at a banned call (the worker reports it by name)."""


@lru_cache(maxsize=None)
def resolve(qualified: str) -> object | None:
    """`torch.nn.functional.softmax` -> the function object, or None when absent."""
    parts = qualified.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


class Guard(TorchFunctionMode):
    """Record (and interrupt) the first banned torch call made inside the `with` block."""

    def __init__(self, banned: list[str] | tuple[str, ...], autograd_allowed: bool):
        super().__init__()
        names = list(banned) + ([] if autograd_allowed else list(AUTOGRAD))
        self.banned: dict[int, str] = {}
        for name in names:
            obj = resolve(name)
            if obj is not None:
                self.banned.setdefault(id(obj), name)
        self.autograd_allowed = autograd_allowed
        self._requires_grad_setter = getattr(torch.Tensor.requires_grad, "__set__", None)
        self.violation: str | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = self.banned.get(id(func))
        if name is None and not self.autograd_allowed:
            if kwargs.get("requires_grad") is True:
                name = "requires_grad=True"
            elif func is self._requires_grad_setter:
                name = "Tensor.requires_grad = True"
        if name is not None:
            if self.violation is None:
                self.violation = name
            raise BannedCall(name)
        return func(*args, **kwargs)


def uses_autograd(value: object) -> bool:
    """True when a returned value carries autograd history (a tensor that requires grad)."""
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if isinstance(value, (list, tuple)):
        return any(uses_autograd(v) for v in value)
    if isinstance(value, dict):
        return any(uses_autograd(v) for v in value.values())
    return False


# --- the source scan ------------------------------------------------------------------------


def _dotted(node: ast.AST) -> str | None:
    """`torch.nn.functional` for that attribute chain, None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Names the module binds to torch objects: `import torch.nn.functional as F` -> F."""
    out: dict = {"torch": "torch", "$modules": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] != "torch":
                    out["$modules"].add(a.asname or a.name.split(".")[0])
                else:
                    out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def scan(source: str, function: str, banned: tuple[str, ...], autograd_allowed: bool) -> tuple[str, int] | None:
    """Find a banned call in `function` (and the module's functions it calls) by reading
    its source, so a banned call on a branch the checks never take is caught too.
    Returns (qualified name, line) or None.

    >>> scan("import torch.nn.functional as F\\ndef f(x):\\n    return F.softmax(x, -1)\\n", "f", ("torch.nn.functional.softmax",), False)
    ('torch.nn.functional.softmax', 3)
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in functions:
        return None
    aliases = _aliases(tree)
    targets = {name: name for name in banned}
    methods = {name.rsplit(".", 1)[1]: name for name in banned if name.startswith("torch.Tensor.")}
    if not autograd_allowed:
        methods.update(backward="torch.Tensor.backward", requires_grad_="torch.Tensor.requires_grad_")
    seen, todo = set(), [function]
    while todo:
        node = functions[todo.pop()]
        seen.add(node.name)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in functions and sub.id not in seen:
                todo.append(sub.id)
            found = _banned_here(sub, aliases, targets, methods, autograd_allowed)
            if found:
                return found, getattr(sub, "lineno", node.lineno)
    return None


def _banned_here(node: ast.AST, aliases: dict, targets: dict, methods: dict, autograd_allowed: bool) -> str | None:
    if isinstance(node, (ast.Attribute, ast.Name)):
        dotted = _dotted(node)
        if dotted:
            head, _, rest = dotted.partition(".")
            if head in aliases and head != "$modules":
                full = aliases[head] + ("." + rest if rest else "")
                if full in targets:
                    return targets[full]
                if not autograd_allowed and (full.startswith("torch.autograd.") or full == "torch.autograd"):
                    return full
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
        receiver = node.func.value
        # `helpers.softmax(x)` on a module the student imported is their own function
        if not (isinstance(receiver, ast.Name) and receiver.id in aliases.get("$modules", ())):
            return methods[node.func.attr]
    if not autograd_allowed and isinstance(node, ast.keyword) and node.arg == "requires_grad":
        if isinstance(node.value, ast.Constant) and node.value.value is True:
            return "requires_grad=True"
    return None
