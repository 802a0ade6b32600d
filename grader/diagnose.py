"""Recognise the pattern behind a wrong answer, so feedback names the likely mistake.

Each function returns a catalogue key and its parameters. Known mistakes of one
exercise (passed by its check) come first; then patterns that hold for any output:
the wrong sign, a transpose, a constant factor (N: sum instead of mean), NaN or inf
from an unstable formula, all zeros, a wrong part.
"""

from __future__ import annotations

import torch

from grader.messages import text
from grader.precision import close

def type_name(value: object) -> str:
    """What a value is, in the student's language ("a tensor of shape (3,)")."""
    from grader.wire import Unsupported

    if isinstance(value, torch.Tensor):
        return text("type.tensor", shape=tuple(value.shape))
    if value is None:
        return text("type.none")
    if isinstance(value, (tuple, list)):
        return text("type.sequence", kind=type(value).__name__, count=len(value))
    if isinstance(value, Unsupported):
        return text("type.other", name=value.type_name)
    return text("type.other", name=type(value).__name__)


def show(value: object, limit: int = 1200, precision: int = 4) -> str:
    """A short, readable rendering of inputs or values for public feedback (`precision`
    digits after the point for tensors)."""
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            shown = show(v, limit // max(1, len(value)), precision)
            if isinstance(v, dict):
                shown = "{\n" + "\n".join("    " + line for line in shown.splitlines()) + "\n}"
            parts.append(f"{k} = {shown}")
        text = "\n".join(parts)
    elif isinstance(value, torch.Tensor):
        with _printoptions(precision):
            text = repr(value) if value.numel() <= 64 else f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    else:
        from grader.wire import Probe

        text = f"<function {value.name}>" if isinstance(value, Probe) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_DIGITS = 10
"""The most digits `show_pair` and `show_at` print to tell two values apart."""


def show_pair(expected: object, got: object, limit: int = 1200) -> tuple[str, str]:
    """`show(expected)` and `show(got)`, with more digits when the values differ but
    would look the same (-1.5974 and -1.5974): the evidence must show the difference."""
    shown = show(expected, limit), show(got, limit)
    if not isinstance(expected, torch.Tensor) or not isinstance(got, torch.Tensor) or shown[0] != shown[1]:
        return shown
    for digits in range(5, MAX_DIGITS + 1):
        shown = show(expected, limit, precision=digits), show(got, limit, precision=digits)
        if shown[0] != shown[1]:
            break
    return shown


def show_at(index: tuple, expected: float, got: float) -> tuple[str, str, str]:
    """One entry of each as (index, expected, got) texts for the catalogue's `detail.at_entry`,
    with enough significant digits (6 to MAX_DIGITS) that two different values read
    differently: ("(0, 1)", "-1.5974812", "-1.5974810")."""
    e, g = f"{expected:.6g}", f"{got:.6g}"
    if e == g:
        for digits in range(7, MAX_DIGITS + 1):
            e2, g2 = format(expected, f"#.{digits}g"), format(got, f"#.{digits}g")  # trailing zeros kept
            if e2 != g2:
                e, g = e2, g2
                break
    return str(index), e, g


def show_call(func: str, arguments: list[tuple[str | None, object]], limit: int = 1500) -> str:
    """A call as the student would write it, `linear_forward(x=tensor(...), W=..., b=...)`,
    values rendered by `show`; one argument a line when it does not fit on one."""
    share = max(80, limit // max(1, len(arguments)))
    parts = [(f"{name}=" if name else "") + show(value, share) for name, value in arguments]
    one_line = f"{func}({', '.join(parts)})"
    if "\n" not in one_line and len(one_line) <= 100:
        return one_line
    lines = [f"{func}("]
    for (name, _), part in zip(arguments, parts):
        pad = " " * (4 + (len(name) + 1 if name else 0))
        first, *rest = part.splitlines() or [""]
        lines += [f"    {first}", *(pad + line if line.strip() else "" for line in rest)]
        lines[-1] += ","
    text = "\n".join(lines + [")"])
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _printoptions:
    def __init__(self, precision: int = 4) -> None:
        self.precision = precision

    def __enter__(self) -> None:
        torch.set_printoptions(precision=self.precision, sci_mode=None)

    def __exit__(self, *exc: object) -> None:
        torch.set_printoptions(profile="default")


def shape_mistake(got: torch.Tensor, expected: torch.Tensor) -> tuple[str, dict]:
    gs, es = tuple(got.shape), tuple(expected.shape)
    if got.dim() == 2 and gs == es[::-1]:
        return "mistake.transposed_shape", {}
    if expected.dim() == 0 and got.numel() == 1:
        return "mistake.not_scalar", {}
    if tuple(s for s in gs if s != 1) == tuple(s for s in es if s != 1):
        return "mistake.extra_dim", {}
    if got.numel() == expected.numel():
        return "mistake.reshaped", {}
    return "compare.shape", {}


def exact_mistake(got: object, known: dict[str, list[tuple[object, dict]]]) -> tuple[str, dict] | None:
    """The known mistake whose output equals `got` exactly (labels, token ids, lists),
    as (catalogue key, message parameters)."""
    for key, forms in known.items():
        for candidate, params in forms:
            try:
                if isinstance(candidate, torch.Tensor):
                    if isinstance(got, torch.Tensor) and got.shape == candidate.shape and bool((got == candidate).all()):
                        return key, params
                elif type(got) is type(candidate) and got == candidate:
                    return key, params
            except (RuntimeError, TypeError, ValueError):
                continue
    return None


def value_mistake(
    got: torch.Tensor,
    expected: torch.Tensor,
    bad: torch.Tensor,
    batch: int | None,
    known: dict[str, list[tuple[torch.Tensor, dict]]],
    tolerance: tuple[float, float],
) -> tuple[str, dict]:
    """Name the pattern of a wrong value (same shape and dtype as expected).

    A candidate explains the answer when it equals it within the grading tolerance, or
    when it is a hundred times closer to it than the expected value is (so a small
    learning rate cannot make every candidate look alike).
    """
    miss = _distance(got, expected)

    def matches(candidate: torch.Tensor) -> bool:
        if candidate.shape != got.shape:
            return False
        candidate = candidate.to(got.dtype)
        if bool(close(got, candidate, *tolerance).all()):
            return True
        if not bool((got.isnan() == candidate.isnan()).all()) or miss == float("inf"):
            return False  # an answer with inf/NaN is explained only by an equal candidate
        return _distance(got, candidate) <= 0.01 * miss

    explained = [
        (_distance(got, candidate.to(got.dtype)), key, params)
        for key, forms in known.items()
        for candidate, params in forms
        if matches(candidate)
    ]
    if explained:
        _, key, params = min(explained, key=lambda e: e[0])  # the closest explanation
        return key, params
    finite_expected = torch.isfinite(expected)
    if (~torch.isfinite(got) & finite_expected).any():
        return "mistake.nonfinite", {}
    # the patterns below (sign, transpose, factor) only mean something for finite values
    if not finite_expected.all() or expected.numel() == 0 or not expected.abs().max() > 0:
        return "compare.mismatch", {}
    if (got == 0).all():
        return "mistake.zeros", {}
    if matches(-expected):
        return "mistake.sign", {}
    if got.dim() == 2 and got.shape[0] == got.shape[1] and got.shape[0] > 1 and matches(expected.T):
        return "mistake.transposed", {}
    e, g = expected.double().flatten(), got.double().flatten()
    ratio = float((g @ e) / (e @ e))
    if 0.01 <= abs(ratio) <= 100 and abs(ratio - 1) > 0.01 and matches(expected * ratio):
        if batch and batch > 1 and abs(ratio - batch) < 1e-3 * batch:
            return "mistake.factor_batch", {"factor": batch}
        if batch and batch > 1 and abs(ratio * batch - 1) < 1e-3:
            return "mistake.factor_inverse_batch", {"factor": batch}
        if expected.numel() > 1:  # any wrong single number is "off by a factor"
            return "mistake.factor", {"factor": f"{ratio:.4g}"}
    if float(bad.double().mean()) < 1 and bad.numel() > 1:
        return "compare.mismatch_some", {}
    return "compare.mismatch", {}


def _distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, NaN and inf counting as infinitely far."""
    diff = (a.double() - b.double()).abs()
    same = (torch.isnan(a) & torch.isnan(b)) | (a.double() == b.double())  # equal infinities too
    diff = torch.where(same, torch.zeros_like(diff), diff)
    return float(torch.nan_to_num(diff, nan=float("inf"), posinf=float("inf")).max()) if diff.numel() else 0.0


def nearest(got: object, candidates: list[torch.Tensor]) -> torch.Tensor:
    """Of the outputs one mistake may give (several ways of making it), the one closest
    to the student's answer, so that the mistake is named whichever way was taken."""
    best, best_distance = candidates[0], float("inf")
    for candidate in candidates:
        if isinstance(got, torch.Tensor) and got.shape == candidate.shape:
            distance = _distance(got, candidate) if got.numel() else 0.0
            if distance < best_distance:
                best, best_distance = candidate, distance
    return best
