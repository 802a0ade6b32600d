"""Runs inside the worker: watches every torch call student code makes during one
exercise call and records the first banned one (a routine the exercise must write itself,
autograd where the exercise does not allow it, or an optimiser of `torch.optim` where the
exercise is to write the update by hand).

Two layers see the calls, and either one records:

- a `TorchFunctionMode` sees Python-level routines by name (`F.softmax(x)`,
  `torch.softmax(x)` and `x.softmax()` alike), which makes the message precise;
- a `TorchDispatchMode` sees the ATen kernel however it was reached
  (`torch.ops.aten.native_layer_norm`, `torch._C.DisableTorchFunction()`, a name built with
  `getattr`). Which kernels a banned routine lowers to is found by tracing the routine
  itself once (`kernels`), less the kernels of ordinary routines a by-hand solution uses
  (`x.mean()`, `x.var()`, `torch.exp`), so a correct solution never trips it.

Autograd is judged by tensor state, not keywords: an op that sees a tensor requiring grad
(an `nn.Parameter`, `requires_grad_()`, the engine reached by any name) is a violation.
The guard only records: catching the exception it raises does not help student code,
the worker reports the recorded call afterwards.
"""

from __future__ import annotations

import ast
import importlib
from functools import lru_cache

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from grader.guard_names import AUTOGRAD, OPTIMISERS


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


# --- which kernels a routine lowers to ----------------------------------------------------


@lru_cache(maxsize=4096)
def packet(func) -> str:
    """`aten.sigmoid_.default` -> "aten.sigmoid": an op and its in-place form are one
    (cached: the guard asks it for every op student code runs)."""
    name = str(func.overloadpacket)
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


class _Trace(TorchDispatchMode):
    """Records the ATen op packets (`aten.native_layer_norm`) run inside the block."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # False: torch would wrap __torch_dispatch__ in a dynamo guard whose first call
        # imports torch._dynamo, sympy and mpmath (800 modules, 1.5 s of every worker)
        return False

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(packet(func))
        return func(*args, **(kwargs or {}))


def _examples(dev: str) -> dict[str, object]:
    """One small call of each banned routine of the curriculum, as `prepare(f) -> call`:
    `f` is the routine; a class is built in `prepare`, outside the trace, so that only
    its forward pass is traced."""
    r = lambda *s: torch.randn(*s, device=dev)  # noqa: E731
    x, v, p, y = r(2, 3, 4, 4), r(4, 5), torch.rand(4, 5, device=dev), torch.tensor([0, 1, 2, 3], device=dev)
    w, cols, q = r(2, 3, 3, 3), r(2, 12, 9), r(2, 3, 4)
    h, c, rm, rv = r(4, 3), r(4, 3), torch.zeros(5, device=dev), torch.ones(5, device=dev)
    x5, g2, wi, wh, wi3, wh3 = r(4, 5), r(2, 2, 2, 2), r(12, 5), r(12, 3), r(9, 5), r(9, 3)
    pooled = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    built = lambda m, *call: (lambda mod: lambda: mod(*call))(m.to(dev))  # noqa: E731
    softmax = lambda f: lambda: f(v, -1)  # noqa: E731
    ex = {}
    for name in ("torch.softmax", "torch.nn.functional.softmax", "torch.Tensor.softmax", "torch.special.softmax",
                 "torch.nn.functional.log_softmax", "torch.log_softmax", "torch.Tensor.log_softmax",
                 "torch.special.log_softmax", "torch.logsumexp", "torch.Tensor.logsumexp", "torch.special.logsumexp"):
        ex[name] = softmax
    ex["torch.nn.Softmax"] = ex["torch.nn.LogSoftmax"] = lambda f: built(f(dim=-1), v)
    for name in ("torch.sigmoid", "torch.nn.functional.sigmoid", "torch.Tensor.sigmoid", "torch.special.expit"):
        ex[name] = lambda f: lambda: f(v)
    ex["torch.nn.Sigmoid"] = lambda f: built(f(), v)
    ex["torch.nn.functional.binary_cross_entropy_with_logits"] = ex["torch.binary_cross_entropy_with_logits"] = lambda f: lambda: f(v, p)
    ex["torch.nn.functional.binary_cross_entropy"] = lambda f: lambda: f(p, p)
    ex["torch.nn.BCEWithLogitsLoss"] = lambda f: built(f(), v, p)
    ex["torch.nn.BCELoss"] = lambda f: built(f(), p, p)
    ex["torch.cdist"] = lambda f: lambda: f(v, v)
    ex["torch.nn.functional.batch_norm"] = lambda f: lambda: (f(v, None, None, training=True), f(v, rm, rv))
    ex["torch.batch_norm"] = lambda f: lambda: f(v, None, None, None, None, True, 0.1, 1e-5, False)
    ex["torch.nn.functional.layer_norm"] = lambda f: lambda: f(v, (5,))
    ex["torch.layer_norm"] = lambda f: lambda: f(v, [5])
    ex["torch.nn.functional.conv2d"] = ex["torch.conv2d"] = lambda f: lambda: f(x, w)
    ex["torch.nn.functional.unfold"] = lambda f: lambda: f(x, 2)
    ex["torch.nn.functional.fold"] = lambda f: lambda: f(cols, (4, 4), 2)
    ex["torch.nn.Conv2d"] = lambda f: built(f(3, 2, 3), x)
    ex["torch.nn.Unfold"] = lambda f: built(f(2), x)
    ex["torch.nn.Fold"] = lambda f: built(f((4, 4), 2), cols)
    ex["torch.convolution"] = lambda f: lambda: f(x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)
    ex["torch.nn.functional.conv_transpose2d"] = ex["torch.conv_transpose2d"] = lambda f: lambda: f(g2, w)
    ex["torch.nn.grad.conv2d_input"] = lambda f: lambda: f(x.shape, w, g2)
    ex["torch.nn.grad.conv2d_weight"] = lambda f: lambda: f(x, w.shape, g2)
    ex["torch.nn.functional.max_pool2d"] = ex["torch.max_pool2d"] = ex["torch.nn.functional.max_pool2d_with_indices"] = lambda f: lambda: f(x, 2)
    ex["torch.nn.MaxPool2d"] = lambda f: built(f(2), x)
    ex["torch.nn.functional.max_unpool2d"] = lambda f: lambda: f(*pooled, 2)
    ex["torch.nn.functional.dropout"] = lambda f: lambda: f(v, 0.5)
    ex["torch.dropout"] = lambda f: lambda: f(v, 0.5, True)
    ex["torch.nn.functional.cross_entropy"] = lambda f: lambda: f(v, y)
    ex["torch.nn.functional.nll_loss"] = lambda f: lambda: f(v, y)
    ex["torch.lstm_cell"] = lambda f: lambda: f(x5, (h, c), wi, wh)
    ex["torch.gru_cell"] = lambda f: lambda: f(x5, h, wi3, wh3)
    ex["torch.nn.LSTMCell"] = ex["torch.nn.GRUCell"] = lambda f: built(f(5, 3), x5)
    ex["torch.nn.LSTM"] = ex["torch.nn.GRU"] = lambda f: built(f(5, 3), r(2, 4, 5))
    ex["torch.nn.functional.scaled_dot_product_attention"] = lambda f: lambda: f(q, q, q)
    ex["torch.nn.MultiheadAttention"] = lambda f: (lambda m: lambda: (m(q, q, q), m(q, q, q, need_weights=False)))(f(4, 2).to(dev))
    ex["torch.nn.TransformerEncoderLayer"] = lambda f: built(f(4, 2, 8), q)
    return ex


def _ordinary(dev: str) -> list[tuple[str, object]]:
    """Routines a by-hand solution may use, as (name, call): their kernels are never a
    sign of a banned routine, unless the exercise bans that very routine (`torch.softmax`
    is ordinary, except in the exercise that is to write it)."""
    r = lambda *s: torch.randn(*s, device=dev)  # noqa: E731
    v, m, i = r(4, 5), torch.rand(4, 5, device=dev), torch.tensor([0, 1, 2, 3], device=dev)
    x = r(2, 3, 4, 4)
    return [
        ("", lambda: (v + v, v - 1, v * v, v / 2, -v, v**2, v @ v.T, torch.mm(v, v.T), torch.bmm(x[0], x[0]), torch.einsum("ij,kj->ik", v, v))),
        ("", lambda: (v.exp(), v.abs().log(), v.abs().sqrt(), v.abs().rsqrt(), v.tanh(), v.clamp(min=0), v.relu(), torch.maximum(v, v), torch.where(v > 0, v, 0 * v))),
        ("", lambda: (v.sum(), v.sum(-1, keepdim=True), v.mean(), v.mean(-1), v.var(), v.var(-1, unbiased=False), v.std(), v.max(), v.max(-1), v.min(-1), v.amax(-1), v.argmax(-1), v.norm(), v.cumsum(0), v.prod())),
        ("", lambda: (v.reshape(5, 4), v.view(-1), v.T.contiguous(), v.transpose(0, 1), v.permute(1, 0), v.unsqueeze(0).expand(2, 4, 5), torch.cat([v, v]), torch.stack([v, v]), v[i], v[:, 1], v.gather(1, i[:, None]), torch.zeros_like(v).scatter_add(1, i[:, None], v[:, :1]), x.unfold(2, 2, 1))),
        ("", lambda: (torch.zeros(3, device=dev), torch.ones(3, device=dev), torch.empty_like(v).bernoulli_(0.5), torch.bernoulli(m), torch.rand_like(v), torch.randn_like(v), torch.arange(4, device=dev), torch.eye(3, device=dev), torch.full((2,), 1.0, device=dev), v.clone(), v.to(torch.float64), torch.nn.functional.one_hot(i, 5), torch.nn.functional.pad(x, (1, 1, 1, 1)))),
        ("", lambda: (torch.nn.functional.linear(v, v, v[:, 0]), torch.addmm(v[:, 0], v, v.T), torch.empty(3, device=dev), v.new_empty(3), v.new_zeros(3), v.t(), v.chunk(5, -1), v.split(2, -1), v.unbind(0), v[None].squeeze(0), v.clone().fill_(1), v.clone().zero_(), v.detach(), x.matmul(x), v.masked_fill(v > 0, 0.0), v.tril(), v.triu(1), v.clone().add_(v).mul_(2).div_(3).sub_(v).addcmul_(v, v).addcdiv_(v, m + 1).sqrt_().clamp_(0, 1))),
        ("", lambda: (v.clone().exp_(), v.clone().tanh_(), v.clone().abs_().log_(), torch.addcmul(v, v, v), torch.lerp(v, v, 0.5), torch.outer(v[0], v[0]), x.flatten(1), v.sign(), v.floor(), v > 0, (v > 0).float(), v.eq(v).all(), v.isfinite(), torch.allclose(v, v), torch.linalg.norm(v), torch.tensordot(v, v, ([1], [1])), torch.diag(v[0]))),
        ("torch.softmax", lambda: torch.softmax(v, -1)),
        ("torch.log_softmax", lambda: torch.log_softmax(v, -1)),
        ("torch.logsumexp", lambda: torch.logsumexp(v, -1)),
        ("torch.sigmoid", lambda: torch.sigmoid(v)),
        ("torch.nn.functional.softplus", lambda: torch.nn.functional.softplus(v)),
        ("torch.nn.functional.logsigmoid", lambda: torch.nn.functional.logsigmoid(v)),
        ("torch.Tensor.sigmoid_", lambda: v.clone().sigmoid_()),
        ("torch.nn.functional.relu", lambda: torch.nn.functional.relu(v)),
        ("torch.nn.functional.gelu", lambda: torch.nn.functional.gelu(v)),
        ("torch.nn.functional.layer_norm", lambda: torch.nn.functional.layer_norm(v, (5,))),
        ("torch.nn.functional.dropout", lambda: torch.nn.functional.dropout(v, 0.5)),
    ]


@lru_cache(maxsize=None)
def kernels(banned: tuple[str, ...], device: str = "cpu") -> dict[str, str]:
    """ATen op packet -> the banned routine that lowers to it, for the routines in `banned`.

    Each routine is traced once on `device`; ops that ordinary routines (not banned here)
    also run are dropped, so what remains is the routine's own kernel
    (`torch.nn.functional.layer_norm` -> {"aten.native_layer_norm": ...}). A routine that
    lowers only to ordinary ops (an LSTM on the CPU) has no kernel here: the
    function-level guard and the source scan still see it by name."""
    if not banned:
        return {}
    objects = {id(resolve(b)) for b in banned if resolve(b) is not None}
    allowed: set[str] = set()
    for name, ops in _ordinary_ops(device):
        if name and (name in banned or name.rstrip("_") in banned or id(resolve(name)) in objects):
            continue
        allowed |= ops
    examples = _examples(device)
    out: dict[str, str] = {}
    for name in banned:
        obj, example = resolve(name), examples.get(name)
        if obj is None or example is None:
            continue
        try:
            call = example(obj)
        except Exception:  # noqa: BLE001 - a routine this torch build calls differently
            continue
        for op in sorted(_trace(call) - allowed):
            out.setdefault(op, name)
    return out


@lru_cache(maxsize=None)
def _ordinary_ops(device: str) -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple((name, frozenset(_trace(call))) for name, call in _ordinary(device))


def prepare(banned: tuple[str, ...], device: str = "cpu") -> None:
    """Do the guard's one-off work for `banned` now (tracing, the optimiser trap), so that
    it is not counted in the time of the student's call."""
    kernels(tuple(b for b in banned if b != OPTIMISERS), device.split(":")[0])
    if OPTIMISERS in banned:
        _install_optimiser_trap()


def _trace(call) -> set[str]:
    mode = _Trace()
    try:
        with torch.no_grad(), mode:
            call()
        with mode:  # with grad on too: some routines pick another kernel then
            call()
    except Exception:  # noqa: BLE001 - a routine this torch build lacks: nothing to learn
        pass
    return mode.ops


# --- the guard ------------------------------------------------------------------------------

_ACTIVE: list["Guard"] = []
"""The guards inside whose `with` block code runs now (the optimiser trap asks them)."""


class _Functions(TorchFunctionMode):
    """Sees Python-level torch routines by object (so a ban has a precise name)."""

    def __init__(self, guard: "Guard"):
        super().__init__()
        self.guard = guard

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        g = self.guard
        name = g.banned.get(id(func))
        if name == "torch.Tensor.requires_grad_" and (args[1] if len(args) > 1 else kwargs.get("requires_grad", True)) is False:
            name = None  # `requires_grad_(False)` says the opposite of using autograd
        if name is None and not g.autograd_allowed:
            if kwargs.get("requires_grad") is True:
                name = "requires_grad=True"
            elif func is g.requires_grad_setter and len(args) > 1 and args[1] is True:
                name = "Tensor.requires_grad = True"
        if name is not None:
            g.trip(name)
        return func(*args, **kwargs)


class _Kernels(TorchDispatchMode):
    """Sees every ATen op however it was reached, with its tensors' autograd state."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # False: torch would wrap __torch_dispatch__ in a dynamo guard whose first call
        # imports torch._dynamo, sympy and mpmath (800 modules, 1.5 s of every worker)
        return False

    def __init__(self, guard: "Guard"):
        super().__init__()
        self.guard = guard

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        g = self.guard
        op = packet(func)
        name = g.kernels.get(op)
        if name is None and g.optim_banned and op.startswith(("aten._foreach_", "aten._fused_")):
            name = "torch.optim"
        if name is None and not g.autograd_allowed and _any_requires_grad(args, kwargs):
            name = "requires_grad"
        if name is not None:
            g.trip(name)
        return func(*args, **kwargs)


def _any_requires_grad(args: tuple, kwargs: dict) -> bool:
    for a in (*args, *kwargs.values()):
        if isinstance(a, torch.Tensor):
            if a.requires_grad:
                return True
        elif isinstance(a, (list, tuple)):
            if any(isinstance(t, torch.Tensor) and t.requires_grad for t in a):
                return True
    return False


class Guard:
    """Record (and interrupt) the first banned call made inside the `with` block.

    `banned` holds qualified names (`torch.nn.functional.softmax`, or `torch.optim` for the
    whole optimiser package); without `autograd_allowed`, autograd is banned too."""

    def __init__(self, banned: list[str] | tuple[str, ...], autograd_allowed: bool, device: str = "cpu"):
        names = list(banned) + ([] if autograd_allowed else list(AUTOGRAD))
        self.optim_banned = OPTIMISERS in banned
        self.banned: dict[int, str] = {}
        for name in names:
            obj = resolve(name)
            if obj is not None and name != OPTIMISERS:
                self.banned.setdefault(id(obj), name)
        if self.optim_banned:  # the optimisers' multi-tensor and fused kernels
            for key in _optimiser_kernels():
                self.banned.setdefault(key, OPTIMISERS)
        self.kernels = kernels(tuple(b for b in banned if b != OPTIMISERS), device.split(":")[0])
        self.autograd_allowed = autograd_allowed
        self.requires_grad_setter = getattr(torch.Tensor.requires_grad, "__set__", None)
        self.violation: str | None = None
        self.tampered = False
        """True when the guard's modes were not where it left them at the end (popped)."""
        self.idle = autograd_allowed and not self.banned and not self.kernels
        """Nothing could trip it (autograd allowed, nothing banned): its modes stay off,
        since sending every torch call through Python would double a training's time."""

    def trip(self, name: str) -> None:
        if self.violation is None:
            self.violation = name
        raise BannedCall(name)

    def __enter__(self) -> "Guard":
        if self.idle:
            self._stacks = _mode_stacks()
            return self
        if self.optim_banned:
            _install_optimiser_trap()
        self._functions, self._kernels = _Functions(self), _Kernels(self)
        self._functions.__enter__()
        self._kernels.__enter__()
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        from torch.utils._python_dispatch import _get_current_dispatch_mode

        if self.idle:  # a mode the call pushed and left would see the next calls' tensors
            self.tampered = _mode_stacks() != self._stacks
            return
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        if _get_current_dispatch_mode() is not self._kernels:
            self.tampered = True
        try:
            self._kernels.__exit__(None, None, None)
            self._functions.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - student code popped a mode: reported as tampering
            self.tampered = True


def _mode_stacks() -> tuple[int, int]:
    """How many torch-function and dispatch modes are active now."""
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    return torch._C._len_torch_function_stack(), len(_get_current_dispatch_mode_stack())


@lru_cache(maxsize=1)
def _optimiser_kernels() -> tuple[int, ...]:
    """Identities of torch's `_foreach_*` and `_fused_*` routines (a walk of `dir(torch)`,
    once per worker rather than once per call)."""
    return tuple(id(getattr(torch, attr)) for attr in dir(torch) if attr.startswith(("_foreach_", "_fused_")))


_TRAPPED: list[bool] = []


def _install_optimiser_trap() -> None:
    """Wrap `torch.optim.Optimizer.__init__` and the optimisers' update functions
    (`_single_tensor_adam`, ...), whose single-tensor path runs only ordinary kernels, so
    that a guard banning `torch.optim` sees them. Outside such a guard they only pass on."""
    if _TRAPPED:
        return
    _TRAPPED.append(True)
    import pkgutil

    import torch.optim

    def trap(fn):
        def trapped(*args, **kwargs):
            for guard in _ACTIVE:
                if guard.optim_banned:
                    guard.trip(OPTIMISERS)
            return fn(*args, **kwargs)

        trapped.__name__ = getattr(fn, "__name__", "trapped")
        trapped.__doc__ = getattr(fn, "__doc__", None)
        return trapped

    torch.optim.Optimizer.__init__ = trap(torch.optim.Optimizer.__init__)
    for info in pkgutil.iter_modules(torch.optim.__path__):
        try:
            module = importlib.import_module(f"torch.optim.{info.name}")
        except Exception:  # noqa: BLE001 - an optional optimiser this build cannot import
            continue
        for attr in dir(module):
            if attr.startswith(("_single_tensor_", "_multi_tensor_", "_fused_")) and callable(getattr(module, attr)):
                setattr(module, attr, trap(getattr(module, attr)))


def uses_autograd(value: object) -> bool:
    """True when a returned value carries autograd state (a tensor that requires grad or
    has a `grad_fn`), looking inside lists, tuples (named too) and dicts."""
    from grader import tree

    return tree.any_tensor(value, lambda t: t.requires_grad or t.grad_fn is not None)


# --- the source scan ------------------------------------------------------------------------


class Unreadable(Exception):
    """The source could not be scanned (nested too deeply, too large): the student's error."""


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
    Returns (qualified name, line) or None; raises Unreadable when the source is too
    deeply nested or too large to read.

    >>> scan("import torch.nn.functional as F\\ndef f(x):\\n    return F.softmax(x, -1)\\n", "f", ("torch.nn.functional.softmax",), False)
    ('torch.nn.functional.softmax', 3)
    """
    try:
        return _scan(source, function, banned, autograd_allowed)
    except (RecursionError, MemoryError) as exc:
        raise Unreadable(type(exc).__name__) from None


def _scan(source: str, function: str, banned: tuple[str, ...], autograd_allowed: bool) -> tuple[str, int] | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in functions:
        return None
    aliases = _aliases(tree)
    targets = {name: name for name in banned}
    prefixes = tuple(name + "." for name in banned if name == OPTIMISERS)
    methods = {name.rsplit(".", 1)[1]: name for name in banned if name.startswith("torch.Tensor.")}
    seen, todo = set(), [function]
    while todo:
        node = functions[todo.pop()]
        seen.add(node.name)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in functions and sub.id not in seen:
                todo.append(sub.id)
            found = _banned_here(sub, aliases, targets, prefixes, methods, autograd_allowed)
            if found:
                return found, getattr(sub, "lineno", node.lineno)
    return None


def _banned_here(node: ast.AST, aliases: dict, targets: dict, prefixes: tuple, methods: dict, autograd_allowed: bool) -> str | None:
    if isinstance(node, (ast.Attribute, ast.Name)):
        dotted = _dotted(node)
        if dotted:
            head, _, rest = dotted.partition(".")
            if head in aliases and head != "$modules":
                full = aliases[head] + ("." + rest if rest else "")
                if full in targets:
                    return targets[full]
                if prefixes and full.startswith(prefixes):
                    return OPTIMISERS
                if not autograd_allowed and (full.startswith("torch.autograd.") or full == "torch.autograd"):
                    return full
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        # `helpers.softmax(x)` on a module the student imported is their own function
        own = isinstance(receiver, ast.Name) and receiver.id in aliases.get("$modules", ())
        if node.func.attr in methods and not own:
            return methods[node.func.attr]
        # `x.requires_grad_()` / `requires_grad_(True)`; `requires_grad_(False)` is fine
        # (a `.backward()` call is not judged here: a student's own layer may have one)
        if not autograd_allowed and node.func.attr == "requires_grad_" and not own:
            arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "requires_grad"), None)
            if arg is None or (isinstance(arg, ast.Constant) and arg.value is True):
                return "torch.Tensor.requires_grad_"
    if not autograd_allowed and isinstance(node, ast.keyword) and node.arg == "requires_grad":
        if isinstance(node.value, ast.Constant) and node.value.value is True:
            return "requires_grad=True"
    return None


def _warm_up() -> None:
    """The first dispatch mode of a process imports much of torch (about 800 modules,
    seconds): do it when the worker imports this module, before any call is timed."""
    with _Trace():
        torch.zeros(1) + 1


_warm_up()
