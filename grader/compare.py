"""Compare a student's answer with the expected one and say what is wrong.

`expect_close(got, expected, name=..., inputs=..., mistakes=...)` walks tuples, lists
and dicts, then checks each tensor's type, shape, dtype and values. The first difference
raises `CheckFailure` with a catalogue key (the kind of mistake: wrong sign, transposed,
off by a factor of N, a known mistake of this exercise...) and, separately, what only a
public check may show (inputs, expected and got values).

The same call judges exact outputs: integer and boolean tensors, token ids, text and
other plain values are compared for equality, floats within the dtype's tolerance
(infinities equal only to themselves, so filtered logits with -inf entries compare as
they are). `AnyOf(a, b)` accepts any of several valid answers; `otherwise=` names the
one rule a check is about when a wrong value matches no known mistake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from grader import diagnose, known
from grader.precision import close, tolerance
from grader.tree import map_tensors

class CheckFailure(AssertionError):
    """A check found a wrong answer. `key`/`params` name the catalogue message (safe to show
    for hidden checks); `reveal` holds inputs and values, shown only for public checks."""

    def __init__(self, key: str, params: dict | None = None, reveal: dict | None = None):
        self.key = key
        self.params = params or {}
        self.reveal = reveal or {}
        super().__init__(f"{key} {self.params}")


class PartialCredit(CheckFailure):
    """An outcome check's verdict: `fraction` of the check's points (0 <= fraction < 1)."""

    def __init__(self, fraction: float, key: str, params: dict | None = None, reveal: dict | None = None):
        super().__init__(key, params, reveal)
        self.fraction = min(max(float(fraction), 0.0), 1.0)


class AnyOf(tuple):
    """Several valid answers, any of which passes: `expect_close(got, AnyOf(a, b), ...)`.
    A wrong answer is judged against the first."""

    def __new__(cls, *answers: object) -> "AnyOf":
        if not answers:
            raise ValueError("AnyOf needs at least one answer")
        return super().__new__(cls, answers)


class Known:
    """A known mistake's output, when it needs message parameters or has several forms:

        mistakes={
            "mistake.ch2.mse_loss.factor": [Known(2 * loss, factor=2), Known(loss / 2, factor=0.5)],
            "mistake.ch1.pca.sign": Known(components, -components),   # either form
        }
    """

    def __init__(self, *outputs: object, describe: Callable[[dict], dict] | None = None, **params: object):
        self.outputs = outputs
        # message parameters; `describe` computes them from the failure's own (index, ...)
        self.params = describe if describe is not None else params


def partial_credit(fraction: float, key: str, reveal: dict | None = None, **params: object) -> None:
    """End an outcome check with part of its points (e.g. accuracy below full marks)."""
    raise PartialCredit(fraction, key, params, reveal)


def fail(key: str, reveal: dict | None = None, **params: object) -> None:
    raise CheckFailure(key, params, reveal)


def expect(condition: bool, key: str, reveal: dict | None = None, **params: object) -> None:
    """Fail with `key` unless `condition` holds (for property checks)."""
    if not condition:
        fail(key, reveal, **params)


@dataclass
class _Context:
    inputs: dict | None
    mistakes: dict | None
    rtol: float | None
    atol: float | None
    batch: int | None
    otherwise: str | None = None


def expect_close(
    got: object,
    expected: object,
    *,
    name: str | tuple[str, ...] = "output",
    inputs: dict | None = None,
    mistakes: dict[str, object] | Callable[[], dict[str, object]] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    batch: int | None = None,
    named: list[tuple[str, object, dict | Callable[[dict], dict]]] = (),
    otherwise: str | None = None,
) -> None:
    """Assert that `got` matches `expected`, leaf by leaf.

    name: what the student calls the output; a tuple names the items of a tuple output
        (`("dx", "dW", "db")`).
    inputs: the call's inputs, revealed on public checks.
    mistakes: catalogue key -> the output a known mistake would give (same structure as
        `expected`, None where the mistake changes nothing); a wrong leaf that matches
        one gets that key's explanation. May be a function returning that dict, called
        only when an answer is wrong (for mistakes that are costly to compute).
    batch: the batch size, so a result off by a factor of N is recognised.
    named: more known mistakes as (key, output, message parameters) triples, several
        allowed per key; the parameters may be a function of the failure's parameters.
    otherwise: the catalogue key for a wrong value that no known mistake explains, in
        place of the generic pattern, for a check about one rule (which tokens a filter
        keeps, the greedy case of sampling). Its message gets the parameters of a value
        failure: name, count, total, index (and error for floats).

    `expected` may be `AnyOf(a, b, ...)`: several valid answers, any of which passes.

    Structure, shapes and dtypes of every leaf are checked before any value, so a
    transposed gradient is reported as such rather than through its effect on others.

    A wrong answer is named, in this order, after a mistake of `mistakes`/`named` it
    matches, a mistake registered for the exercise function that returned `got`
    (`solutions/mistakes/`, looked up by `grader.known`), or the pattern `grader.diagnose`
    sees. With a tuple of names, an answer whose structure, shapes and dtypes are right
    but only some of whose items are wrong earns the right items' share of the points
    (`PartialCredit`).
    """
    if named:
        mistakes = _with_named(mistakes, list(named))
    elif callable(mistakes):
        mistakes = _once(mistakes)
    ctx = _Context(inputs, mistakes, rtol, atol, batch, otherwise)
    if known.recording():
        known.record(got)  # a release replays the mistakes' outputs: record them for every answer
    if isinstance(expected, AnyOf):
        if any(_passes(got, answer, name, ctx) for answer in expected[1:]):
            return
        expected = expected[0]
    try:
        _compare(got, expected, name, ctx)
    except CheckFailure as failure:
        renamed = _recognised(failure, got, ctx)
        if _plain(expected):  # ids, text: the whole answer, not just the first differing item
            renamed.reveal.update(expected=diagnose.show(expected, 600), got=diagnose.show(got, 600))
        if renamed is failure:
            raise
        raise renamed from None


def _compare(got: object, expected: object, name: str | tuple[str, ...], ctx: _Context) -> None:
    if isinstance(name, tuple):
        if not isinstance(expected, tuple):
            raise TypeError("a tuple of names needs a tuple output")
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            fail("compare.returns", _reveal(ctx), count=len(expected), names=", ".join(name), got=diagnose.type_name(got))
        leaves = []
        for i, (g, e) in enumerate(zip(got, expected)):
            leaves += _leaves(g, e, name[i], (i,), ctx)
    else:
        leaves = _leaves(got, expected, name, (), ctx)
    for leaf in leaves:
        _structure(*leaf, ctx)
    wrong = [leaf for leaf in leaves if not _value_ok(*leaf, ctx)]
    if not wrong:
        return
    others = [path for _, _, path, _ in wrong[1:]]
    if isinstance(name, tuple):
        right = len(name) - len({where[0] for _, _, _, where in wrong})
        if right > 0:
            try:
                _value_failure(*wrong[0], ctx, others)
            except CheckFailure as failure:
                raise PartialCredit(right / len(name), failure.key, failure.params, failure.reveal) from None
    _value_failure(*wrong[0], ctx, others)


def _passes(got: object, expected: object, name: str | tuple[str, ...], ctx: _Context) -> bool:
    try:
        _compare(got, expected, name, ctx)
    except CheckFailure:
        return False
    return True


def _plain(value: object) -> bool:
    """True for plain data without tensors (token ids, text, lists of pairs)."""
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    return not isinstance(value, torch.Tensor)


def _recognised(failure: CheckFailure, got: object, ctx: _Context) -> CheckFailure:
    """`failure`, or the same failure (same points, same reveal) named after the
    registered mistake `got` matches; a mistake the check named itself comes first."""
    if failure.key in _keys(ctx.mistakes):
        return failure
    keys = known.recognise_all(got, ctx.rtol, ctx.atol)
    if not keys or keys[0] == failure.key:
        return failure
    # the input cannot tell these mistakes apart: the message names the first and says
    # the others are possible too
    reveal = failure.reveal | ({"or_known": keys[1:3]} if len(keys) > 1 else {})
    if isinstance(failure, PartialCredit):
        return PartialCredit(failure.fraction, keys[0], failure.params, reveal)
    return CheckFailure(keys[0], failure.params, reveal)


def _keys(mistakes: dict | Callable | None) -> set[str]:
    return set((mistakes() if callable(mistakes) else mistakes) or {})


def _once(make: Callable[[], dict]) -> Callable[[], dict]:
    """`make`, called at most once (the table of a failure is needed twice)."""
    cache: list[dict] = []

    def table() -> dict:
        if not cache:
            cache.append(make())
        return cache[0]

    return table


def expect_default_kept(call: Callable[[], object], expected: object, *, function: str, argument: str, default: object, **options: object) -> None:
    """The signature's promise of a default: `call()` leaves `argument` out and must give
    `expected`, the answer for `argument=default` (options: passed on to `expect_close`).
    Called after the same input passed with the argument given, so a wrong value (a named
    mistake included) is the default's fault (`mistake.default_argument`); a crash keeps
    its own message."""
    try:
        expect_close(call(), expected, **options)
    except CheckFailure as failure:
        if type(failure) is not CheckFailure:
            raise
        params = {"function": function, "argument": argument, "default": default}
        raise CheckFailure("mistake.default_argument", params, failure.reveal) from None


STABILITY_DTYPES = (torch.float64, torch.float32)


def expect_stable(
    call: Callable[..., object],
    expected: Callable[..., object],
    inputs: dict,
    *,
    name: str | tuple[str, ...] = "output",
    public: bool = True,
    per_dtype: Callable[..., dict] | None = None,
    **options: object,
) -> None:
    """The one stability rule for a loss built on softmax or sigmoid (the contract): for
    `inputs` whose logits are large, the answer is finite and right wherever the true value
    is finite, in float64 AND float32.

    call: the student's function applied to the inputs (keyword arguments);
    expected: the truth for the same inputs (computed in float64, cast back);
    options: passed on to `expect_close` (tolerances, batch, mistakes);
    per_dtype: more options computed from the inputs cast to each dtype (keyword
        arguments), for mistakes and tolerances that depend on the dtype; its "causes"
        (stability key -> that mistake's output in the dtype) name a non-finite answer
        whose NaN/inf pattern matches one, before the general rule below.

    A non-finite answer is named after its cause: NaN is exp() overflowing (no max shift,
    inf / inf), +-inf without NaN is the log of a probability that underflowed to 0 (a
    max shift alone does not prevent it: use log-sum-exp)."""
    for dtype in STABILITY_DTYPES:
        cast = map_tensors(inputs, lambda t: t.to(dtype) if t.is_floating_point() else t)
        got, truth_ = call(**cast), expected(**cast)
        extra = per_dtype(**cast) if per_dtype is not None else {}
        causes = extra.pop("causes", {})
        try:
            expect_close(got, truth_, name=name, inputs=cast if public else None, **(options | extra))
        except CheckFailure as failure:
            cause = _nonfinite_cause(got, truth_, causes)
            if cause is None or type(failure) not in (CheckFailure, PartialCredit):
                raise
            params = failure.params | {"dtype": str(dtype).replace("torch.", "")}
            if isinstance(failure, PartialCredit):
                raise PartialCredit(failure.fraction, cause, params, failure.reveal) from None
            raise CheckFailure(cause, params, failure.reveal) from None


def _nonfinite_cause(got: object, expected: object, causes: dict | None = None) -> str | None:
    """For an answer non-finite where the truth is finite: which mistake made it so (a
    known cause whose output has the same NaN and inf entries, else NaN: overflow, inf:
    the log of an underflow)."""
    pairs = [(g, e) for g, e, _, _ in _leaves_quiet(got, expected) if isinstance(g, torch.Tensor) and isinstance(e, torch.Tensor) and g.shape == e.shape and e.is_floating_point()]
    spoilt = [(g, e) for g, e in pairs if (~torch.isfinite(g) & torch.isfinite(e)).any()]
    if not spoilt:
        return None
    for key, output in (causes or {}).items():
        leaves = [(g, c) for g, c, _, _ in _leaves_quiet(got, output) if isinstance(g, torch.Tensor) and isinstance(c, torch.Tensor) and g.shape == c.shape and c.is_floating_point()]
        if leaves and all(torch.equal(g.isnan(), c.isnan()) and torch.equal(g.isinf(), c.isinf()) for g, c in leaves):
            return key
    if any((torch.isnan(g) & torch.isfinite(e)).any() for g, e in spoilt):
        return "mistake.stability.no_max_shift"
    return "mistake.stability.log_of_underflow"


def _leaves_quiet(got: object, expected: object) -> list:
    try:
        return _leaves(got, expected, "", (), _Context(None, None, None, None, None))
    except CheckFailure:
        return []


def _leaves(got: object, expected: object, path: str, where: tuple, ctx: _Context) -> list:
    """Flatten matching containers into (got, expected, path, where) leaves; a container
    whose type or length differs fails at once."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            fail("compare.not_sequence", _reveal(ctx), name=path, count=len(expected), got=diagnose.type_name(got))
        if len(got) != len(expected):
            fail("compare.length", _reveal(ctx), name=path, count=len(expected), got=len(got))
        out = []
        for i, (g, e) in enumerate(zip(got, expected)):
            out += _leaves(g, e, f"{path}[{i}]", where + (i,), ctx)
        return out
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            fail("compare.type", _reveal(ctx), name=path, expected="dict", got=diagnose.type_name(got))
        missing = sorted(set(expected) - set(got))
        if missing:
            fail("compare.missing_keys", _reveal(ctx), name=path, keys=", ".join(missing))
        out = []
        for k in expected:
            out += _leaves(got[k], expected[k], f"{path}[{k!r}]", where + (k,), ctx)
        return out
    return [(got, expected, path, where)]


def _structure(got: object, expected: object, path: str, where: tuple, ctx: _Context) -> None:
    if not isinstance(expected, torch.Tensor):
        return
    if not isinstance(got, torch.Tensor):
        fail("compare.not_tensor", _reveal(ctx), name=path, got=diagnose.type_name(got))
    if got.shape != expected.shape:
        key, params = diagnose.shape_mistake(got, expected)
        fail(key, _reveal(ctx) | _values(got, expected), name=path, got=tuple(got.shape), expected=tuple(expected.shape), **params)
    if got.dtype != expected.dtype:
        fail("compare.dtype", _reveal(ctx), name=path, got=str(got.dtype).replace("torch.", ""), expected=str(expected.dtype).replace("torch.", ""))


def _value_ok(got: object, expected: object, path: str, where: tuple, ctx: _Context) -> bool:
    if isinstance(expected, torch.Tensor):
        if expected.dtype == torch.bool or not expected.dtype.is_floating_point:
            return bool((got == expected).all())
        return bool(close(got, expected, *_tolerance(expected, ctx)).all())
    if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(got) and math.isnan(expected))
    return type(got) is type(expected) and got == expected


def _tolerance(expected: torch.Tensor, ctx: _Context) -> tuple[float, float]:
    rtol, atol = tolerance(expected.dtype)
    return (ctx.rtol if ctx.rtol is not None else rtol, ctx.atol if ctx.atol is not None else atol)


def _value_failure(got: object, expected: object, path: str, where: tuple, ctx: _Context, others: list[str]) -> None:
    also = {"also": ", ".join(others)} if others else {}
    known = _leaf(ctx.mistakes, where)
    if not isinstance(expected, torch.Tensor):
        reveal = _reveal(ctx) | {"expected": repr(expected)[:500], "got": repr(got)[:500]}
        if type(got) is not type(expected) and not (isinstance(expected, float) and isinstance(got, int)):
            fail("compare.type", reveal, name=path, expected=diagnose.type_name(expected), got=diagnose.type_name(got))
        key, params = diagnose.exact_mistake(got, known) or (ctx.otherwise or "compare.value", {})
        fail(key, reveal | also, **_described(params, {"name": path}))
    if expected.dtype == torch.bool or not expected.dtype.is_floating_point:
        wrong = got != expected
        index = tuple(int(i) for i in wrong.nonzero()[0])
        key, params = diagnose.exact_mistake(got, known) or (ctx.otherwise or "compare.mismatch_exact", {})
        base = {"name": path, "count": int(wrong.sum()), "total": expected.numel(), "index": index}
        fail(key, _reveal(ctx) | _values(got, expected, index) | also, **_described(params, base))
    rtol, atol = _tolerance(expected, ctx)
    bad = ~close(got, expected, rtol, atol)
    error = (got.double() - expected.double()).abs()
    error = torch.where(bad, torch.nan_to_num(error, nan=math.inf), torch.zeros_like(error))
    index = tuple(int(i) for i in torch.unravel_index(error.argmax(), error.shape)) if error.dim() else ()
    floats = {k: [(c, p) for c, p in forms if isinstance(c, torch.Tensor)] for k, forms in known.items()}
    key, params = diagnose.value_mistake(got, expected, bad, ctx.batch, floats, (rtol, atol))
    if ctx.otherwise is not None and key not in floats:  # no known mistake: the check's own rule
        key, params = ctx.otherwise, {}
    base = {"name": path, "index": index, "error": float(error.max()), "count": int(bad.sum()), "total": expected.numel()}
    fail(key, _reveal(ctx) | _values(got, expected, index) | also, **_described(params, base))


def _described(params: dict | Callable[[dict], dict], base: dict) -> dict:
    """A failure's message parameters: its own, then those of the mistake it matched."""
    return base | (params(base) if callable(params) else params)


def _with_named(mistakes, named: list) -> Callable[[], dict]:
    """`mistakes` (a dict or a function returning one) with the `named` triples added."""

    def merged() -> dict:
        table: dict[str, list[Known]] = {}
        base = mistakes() if callable(mistakes) else (mistakes or {})
        for key, value in base.items():
            table.setdefault(key, []).extend(value if isinstance(value, list) and all(isinstance(v, Known) for v in value) else [value if isinstance(value, Known) else Known(value)])
        for key, output, params in named:
            known = Known(output, describe=params) if callable(params) else Known(output, **params)
            table.setdefault(key, []).append(known)
        return table

    return _once(merged)


def _leaf(mistakes: dict | Callable | None, where: tuple) -> dict[str, list[tuple[object, dict]]]:
    """For each known mistake, its output(s) at the same place as the failing leaf, with
    the message parameters: key -> [(output, params), ...] (mistakes that change nothing
    there are left out)."""
    if callable(mistakes):
        mistakes = mistakes()
    out: dict[str, list[tuple[object, dict]]] = {}
    for key, value in (mistakes or {}).items():
        if isinstance(value, Known):
            value = [value]
        forms = value if isinstance(value, list) and value and all(isinstance(v, Known) for v in value) else [Known(value)]
        for known in forms:
            for candidate in known.outputs:
                try:
                    for step in where:
                        candidate = candidate[step]
                except (IndexError, KeyError, TypeError):
                    continue
                if candidate is not None:
                    out.setdefault(key, []).append((candidate, known.params))
    return out


def _reveal(ctx: _Context) -> dict:
    return {"inputs": diagnose.show(ctx.inputs)} if ctx.inputs else {}


def _values(got: torch.Tensor, expected: torch.Tensor, index: tuple | None = None) -> dict:
    shown_expected, shown_got = diagnose.show_pair(expected, got)
    out = {"expected": shown_expected, "got": shown_got}
    if index is not None and index != () and got.shape == expected.shape:
        out["at"] = diagnose.show_at(index, expected[index].item(), got[index].item())
    return out
