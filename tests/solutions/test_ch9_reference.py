"""The chapter 9 reference (`solutions/ch9_llm.py`) against PyTorch built-ins, worked
examples and independent formulations; the stubs; and a sanity check of the chapter's
mutants (each differs from the reference somewhere) and variants (each agrees)."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import solutions.ch9_llm as ref
import tests.mutants.ch9_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES

DTYPES = [torch.float32, torch.float64]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _tol(dtype: torch.dtype) -> dict:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    )


# ------------------------------------------------------------------------------- BPE
#
# Independent model of the contract: ids become characters of a str, so that
# `str.count` (non-overlapping) is NOT used for counting but `str.replace` (left to
# right, non-overlapping) performs the merge.


def _as_str(ids: list[int]) -> str:
    return "".join(chr(0x10000 + i) for i in ids)


def _replace_merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    merged = _as_str(ids).replace(_as_str(list(pair)), chr(0x10000 + new_id))
    return [ord(c) - 0x10000 for c in merged]


TEXTS = [
    "aaabdaaabac",
    "abcdcdab",
    "the theme of the thesis: then, there, these",
    "héllo wörld, héllo wörld! ça va? 日本語 日本語",
    "aaaa aaaa aaaa b",
    "",
]


def test_bpe_train_worked_examples():
    # Wikipedia's example: aa -> Z, then Za -> Y (the tie with ab goes to Za, which
    # occurs first), then Yb -> X.
    assert ref.bpe_train("aaabdaaabac", 3) == [(97, 97), (256, 97), (257, 98)]
    # Tie (a, b) / (c, d) goes to the first occurrence; stops once no pair repeats.
    assert ref.bpe_train("abcdcdab", 10) == [(97, 98), (99, 100)]
    # Overlapping occurrences count: "aaa" holds (a, a) twice, so it is merged.
    assert ref.bpe_train("aaabcbc", 5) == [(97, 97), (98, 99)]
    assert ref.bpe_train("aaa", 5) == [(97, 97)]
    assert ref.bpe_train("abc", 5) == []
    assert ref.bpe_train("", 5) == []


@pytest.mark.parametrize("text", TEXTS)
def test_bpe_train_follows_the_contract_step_by_step(text):
    merges = ref.bpe_train(text, 30)
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        pairs = list(zip(ids, ids[1:]))
        counts = {p: pairs.count(p) for p in set(pairs)}
        best = max(counts.values())
        assert best >= 2 and counts[pair] == best
        # among the most frequent pairs, the chosen one occurs first
        first = min(i for i, p in enumerate(pairs) if counts[p] == best)
        assert pairs[first] == pair
        ids = _replace_merge(ids, pair, 256 + k)
    if len(merges) < 30:
        pairs = list(zip(ids, ids[1:]))
        assert all(pairs.count(p) < 2 for p in pairs)


def test_bpe_train_respects_num_merges():
    text = TEXTS[2] * 3
    assert ref.bpe_train(text, 4) == ref.bpe_train(text, 20)[:4]
    assert ref.bpe_train(text, 0) == []


@pytest.mark.parametrize("text", TEXTS)
def test_bpe_encode_matches_str_replace(text):
    merges = ref.bpe_train(TEXTS[2] + TEXTS[3], 25)
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        ids = _replace_merge(ids, pair, 256 + k)
    assert ref.bpe_encode(text, merges) == ids


def test_bpe_encode_worked_examples():
    assert ref.bpe_encode("aaab", [(97, 97), (256, 97)]) == [257, 98]
    assert ref.bpe_encode("aaa", [(97, 97)]) == [256, 97]
    # merge order matters: (b, c) first leaves no (a, b) to merge
    assert ref.bpe_encode("abcab", [(98, 99), (97, 98)]) == [97, 256, 257]


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=40), st.text(min_size=1, max_size=60))
def test_bpe_round_trip(text, training_text):
    merges = ref.bpe_train(training_text * 2, 10)
    ids = ref.bpe_encode(text, merges)
    assert all(isinstance(i, int) for i in ids)
    assert ref.bpe_decode(ids, merges) == text


def test_bpe_decode_matches_bytes_decode():
    raw = "héllo 日本".encode("utf-8")
    assert ref.bpe_decode(list(raw), []) == raw.decode("utf-8")
    # A character split across two tokens: "h" + first byte of "é", then its second byte.
    assert ref.bpe_decode([256, 0xA9], [(104, 0xC3)]) == "hé"
    broken = [0xC3, 0x28, 0xFF]
    assert ref.bpe_decode(broken, []) == bytes(broken).decode("utf-8", errors="replace")
    assert ref.bpe_decode([257, 98], [(97, 97), (256, 97)]) == "aaab"


# ----------------------------------------------------------------------------- top-k


@pytest.mark.parametrize("dtype", DTYPES)
def test_top_k_filter_against_topk_indices(dtype):
    logits = torch.randn(4, 7, 11, generator=_gen(1), dtype=dtype)  # no ties
    for k in (1, 3, 11, 50):
        out = ref.top_k_filter(logits, k)
        assert out.dtype == dtype and out.shape == logits.shape
        keep = torch.zeros_like(logits, dtype=torch.bool)
        keep.scatter_(-1, torch.topk(logits, min(k, 11), dim=-1).indices, True)
        expected = torch.where(keep, logits, torch.tensor(float("-inf"), dtype=dtype))
        torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_top_k_filter_keeps_ties_like_numpy_partition():
    logits = torch.randint(0, 4, (6, 9), generator=_gen(2)).to(torch.float64)  # many ties
    for k in (1, 2, 5, 9):
        kth = np.partition(logits.numpy(), -k, axis=-1)[:, -k][:, None]
        expected = np.where(logits.numpy() >= kth, logits.numpy(), -np.inf)
        np.testing.assert_array_equal(ref.top_k_filter(logits, k).numpy(), expected)
    inf = float("-inf")
    torch.testing.assert_close(
        ref.top_k_filter(torch.tensor([1.0, 3.0, 2.0, 3.0]), 2), torch.tensor([inf, 3.0, inf, 3.0])
    )


# ----------------------------------------------------------------------------- top-p


def _top_p_numpy(logits: torch.Tensor, p: float) -> np.ndarray:
    probs = torch.softmax(logits, dim=-1).numpy()
    out = np.full(probs.shape, -np.inf)
    for row in np.ndindex(probs.shape[:-1]):
        order = np.argsort(-probs[row], kind="stable")  # equal probs: lower index first
        mass = 0.0
        for rank, i in enumerate(order):
            if rank > 0 and mass >= p:
                break
            out[row + (i,)] = logits[row + (i,)].item()
            mass += float(probs[row + (i,)])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 1.0])
def test_top_p_filter_against_numpy_loop(dtype, p):
    logits = 2 * torch.randn(3, 5, 10, generator=_gen(3), dtype=dtype)
    out = ref.top_p_filter(logits, p)
    assert out.dtype == dtype and out.shape == logits.shape
    np.testing.assert_array_equal(out.numpy(), _top_p_numpy(logits, p).astype(out.numpy().dtype))


def test_top_p_filter_worked_examples():
    inf = float("-inf")
    logits = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64).log()
    torch.testing.assert_close(
        ref.top_p_filter(logits, 0.7),
        torch.tensor([inf, logits[1], logits[2]], dtype=torch.float64),
    )
    torch.testing.assert_close(
        ref.top_p_filter(logits, 0.5), torch.tensor([inf, logits[1], inf], dtype=torch.float64)
    )
    # equal probabilities 0.25 (exact): mass before = 0, .25, .5, .75
    ties = torch.zeros(4)
    torch.testing.assert_close(ref.top_p_filter(ties, 0.5), torch.tensor([0.0, 0.0, inf, inf]))
    torch.testing.assert_close(ref.top_p_filter(ties, 0.51), torch.tensor([0.0, 0.0, 0.0, inf]))


# ---------------------------------------------------------------------- sample_token


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_token_quantiles_follow_categorical_probs(dtype):
    logits = torch.randn(3, 6, generator=_gen(4), dtype=dtype)
    for temperature in (0.5, 1.0, 2.0):
        probs = torch.distributions.Categorical(logits=logits / temperature).probs  # (3, 6)
        m = 2000
        u = (torch.arange(m, dtype=dtype) + 0.5) / m  # evenly spread quantiles
        samples = torch.stack(
            [ref.sample_token(logits, temperature, u[j].expand(3)) for j in range(m)]
        )
        assert samples.dtype == torch.int64 and samples.shape == (m, 3)
        freq = F.one_hot(samples, 6).to(dtype).mean(dim=0)  # (3, 6)
        torch.testing.assert_close(freq, probs, rtol=0, atol=1.0 / m + 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_token_against_numpy_searchsorted(dtype):
    logits = torch.randn(50, 9, generator=_gen(5), dtype=dtype)
    u = torch.rand(50, generator=_gen(6), dtype=dtype)
    out = ref.sample_token(logits, 0.8, u)
    cdf = torch.softmax(logits / 0.8, dim=-1).cumsum(-1).numpy()
    expected = [min(np.searchsorted(cdf[i], u[i].item(), side="right"), 8) for i in range(50)]
    assert out.tolist() == expected


def test_sample_token_greedy_shapes_and_boundaries():
    logits = torch.tensor([[0.0, 2.0, 2.0, 1.0], [5.0, 5.0, 0.0, 0.0]])
    torch.testing.assert_close(
        ref.sample_token(logits, 0.0, torch.rand(2)), torch.argmax(logits, dim=-1)
    )
    assert ref.sample_token(logits, 0.0, torch.rand(2)).tolist() == [1, 0]
    one = ref.sample_token(logits[0], 1.0, torch.tensor(0.3))
    assert one.shape == () and one.dtype == torch.int64
    # uniform over 4 tokens: cdf [.25, .5, .75, 1.] exactly; "exceeds" is strict
    uniform = torch.zeros(4)
    assert [
        ref.sample_token(uniform, 1.0, torch.tensor(x)).item() for x in (0.0, 0.25, 0.5, 0.99)
    ] == [0, 1, 2, 3]


# ------------------------------------------------------------------------ perplexity


@pytest.mark.parametrize("dtype", DTYPES)
def test_perplexity_against_cross_entropy(dtype):
    logits = 3 * torch.randn(3, 7, 11, generator=_gen(7), dtype=dtype)
    targets = torch.randint(0, 11, (3, 7), generator=_gen(8))
    targets[0, 4:] = -100
    targets[2, 1] = -100
    expected = torch.exp(
        F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1), ignore_index=-100)
    )
    out = ref.perplexity(logits, targets)
    assert out.shape == () and out.dtype == dtype
    torch.testing.assert_close(out, expected, **_tol(dtype))
    # another ignore_index
    padded = torch.where(targets == -100, 7, targets)
    expected = torch.exp(
        F.cross_entropy(logits.reshape(-1, 11), padded.reshape(-1), ignore_index=7)
    )
    torch.testing.assert_close(
        ref.perplexity(logits, padded, ignore_index=7), expected, **_tol(dtype)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_perplexity_is_stable_for_huge_logits(dtype):
    # exp(1000) overflows even in float64, yet the perplexity is moderate: the targets
    # are the top logits, nearly certain.
    logits = 1e3 * torch.randn(2, 5, 6, generator=_gen(9), dtype=dtype)
    targets = logits.argmax(dim=-1)
    targets[0, 0] = (targets[0, 0] + 1) % 6
    logits[0, 0] = logits[0, 0] / 1e3
    out = ref.perplexity(logits, targets)
    expected = torch.exp(F.cross_entropy(logits.reshape(-1, 6), targets.reshape(-1)))
    assert torch.isfinite(out)
    torch.testing.assert_close(out, expected, **_tol(dtype))
    uniform = ref.perplexity(torch.zeros(1, 3, 4, dtype=dtype), torch.tensor([[0, 1, 2]]))
    assert uniform.item() == pytest.approx(4.0)


# ------------------------------------------------------------------- kv_cache_attend


@pytest.mark.parametrize("dtype", DTYPES)
def test_kv_cache_decoding_equals_causal_sdpa(dtype):
    N, h, T, d, dv = 2, 3, 6, 4, 5
    g = _gen(11)
    q, k = torch.randn(N, h, T, d, generator=g, dtype=dtype), torch.randn(
        N, h, T, d, generator=g, dtype=dtype
    )
    v = torch.randn(N, h, T, dv, generator=g, dtype=dtype)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    cache_k, cache_v = torch.zeros(N, h, 0, d, dtype=dtype), torch.zeros(N, h, 0, dv, dtype=dtype)
    outs = []
    for t in range(T):
        args = (q[:, :, t : t + 1], k[:, :, t : t + 1], v[:, :, t : t + 1], cache_k, cache_v)
        before = [a.clone() for a in args]
        out, cache_k, cache_v = ref.kv_cache_attend(*args)
        assert all(torch.equal(a, b) for a, b in zip(args, before))  # inputs untouched
        assert out.shape == (N, h, 1, dv) and out.dtype == dtype
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, dim=2), expected, **_tol(dtype))
    torch.testing.assert_close(cache_k, k, rtol=0, atol=0)
    torch.testing.assert_close(cache_v, v, rtol=0, atol=0)


# ------------------------------------------------------------------------------ rope


def _rope_complex(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """LLaMA's formulation: pairs as complex numbers times e^{i p theta_i}."""
    d = x.shape[-1]
    freqs = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.outer(positions.to(torch.float64), freqs)
    z = torch.view_as_complex(x.to(torch.float64).reshape(*x.shape[:-1], d // 2, 2))
    return torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).reshape(x.shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rope_against_complex_rotation(dtype):
    x = torch.randn(2, 3, 5, 8, generator=_gen(12), dtype=dtype)
    positions = torch.tensor([0, 1, 2, 7, 40])
    for base in (10000.0, 100.0):
        out = ref.rope(x, positions, base)
        assert out.dtype == dtype and out.shape == x.shape
        torch.testing.assert_close(
            out.to(torch.float64), _rope_complex(x, positions, base), rtol=1e-5, atol=1e-5
        )


def test_rope_scores_depend_on_relative_position_only():
    g = _gen(13)
    q, k = torch.randn(1, 16, generator=g, dtype=torch.float64), torch.randn(
        1, 16, generator=g, dtype=torch.float64
    )

    def score(m: int, n: int) -> float:
        return (ref.rope(q, torch.tensor([m])) @ ref.rope(k, torch.tensor([n])).T).item()

    assert score(5, 2) == pytest.approx(score(13, 10), abs=1e-10)
    assert score(0, 0) == pytest.approx((q @ k.T).item(), abs=1e-12)
    torch.testing.assert_close(
        ref.rope(torch.tensor([[1.0, 0.0]]), torch.tensor([1])),
        torch.tensor([[math.cos(1), math.sin(1)]]),
    )


# ----------------------------------------------------------------------------- LoRA


@pytest.mark.parametrize("dtype", DTYPES)
def test_lora_forward_equals_linear_with_merged_weight(dtype):
    g = _gen(14)
    D_in, D_out, r, alpha = 6, 5, 2, 8.0
    layer = torch.nn.Linear(D_in, D_out, dtype=dtype)
    A, B = torch.randn(r, D_in, generator=g, dtype=dtype), torch.randn(
        D_out, r, generator=g, dtype=dtype
    )
    x = torch.randn(3, 4, D_in, generator=g, dtype=dtype)
    with torch.no_grad():
        out = ref.lora_forward(x, layer.weight, layer.bias, A, B, alpha)
        expected = F.linear(x, layer.weight + (alpha / r) * B @ A, layer.bias)
        frozen = layer(x)
    torch.testing.assert_close(out, expected, **_tol(dtype))
    with torch.no_grad():
        torch.testing.assert_close(
            ref.lora_forward(x, layer.weight, layer.bias, A, torch.zeros_like(B), alpha), frozen
        )


# ---------------------------------------------------------------------------- stubs


def test_the_checks_lora_truth_is_the_merged_layer():
    # the truth the checks compare with (solutions/mistakes/ch9_llm.py), with and without bias
    from solutions.mistakes.ch9_llm import lora_merged_layer

    x, W, b, A, B = (_r(*shape, seed=50 + i) for i, shape in enumerate([(2, 3, 6), (5, 6), (5,), (2, 6), (5, 2)]))
    for bias in (b, None):
        torch.testing.assert_close(lora_merged_layer(x, W, bias, A, B, 4.0), ref.lora_forward(x, W, bias, A, B, 4.0))


def test_every_known_mistake_is_realistic_code_with_a_message():
    # registered by catalogue key, named like the exercise function it replaces
    import json

    from solutions.mistakes import entries

    catalogue = json.loads((Path(__file__).resolve().parents[2] / "grader/locales/en/ch9.json").read_text(encoding="utf-8"))
    found = entries("ch9")
    assert found
    for entry in found:
        assert f"mistake.{entry.key}" in catalogue
        assert entry.func.__name__ == entry.exercise.split(".", 1)[1]


# -------------------------------------------------------------- mutants and variants


def _as_submission(case) -> object:
    """The reference module with the case appended under the exercise's name."""
    namespace: dict = {"__name__": "submission"}
    exec(
        compile(
            Path(inspect.getfile(ref)).read_text() + "\n\n" + case.source(), "submission", "exec"
        ),
        namespace,
    )
    return namespace[case.exercise.split(".", 1)[1]]


def _r(*shape, seed, dtype=torch.float64, scale=1.0):
    return scale * torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def _inputs() -> dict[str, list[tuple]]:
    """Inputs on which every mutant must differ somewhere and every variant agree."""
    trained = ref.bpe_train("aaabdaaabac the theme of the thesis", 6)
    targets = torch.tensor([[1, 2, 3, -100, -100], [0, 4, 4, 2, 6]])
    return {
        "bpe_train": [
            ("aaabdaaabac", 3),
            ("abcdcdab", 10),
            ("aaabcbc", 5),
            ("aaa", 3),
            ("héllo héllo wörld wörld", 8),
        ],
        "bpe_encode": [
            ("aaabdaaabac", trained),
            ("abcab", [(98, 99), (97, 98)]),
            ("the thesis", trained),
            ("é", []),
        ],
        "bpe_decode": [
            ([0xC3, 0xA9], []),
            ([0xC3], []),
            ([256, 0xA9], [(104, 0xC3)]),
            ([256, 257], [(97, 98), (256, 99)]),
        ],
        "top_k_filter": [
            (torch.tensor([1.0, 3.0, 2.0, 3.0]), 2),
            (torch.tensor([1.0, 3.0, 2.0, 2.0]), 2),
            (_r(4, 6, seed=20), 3),
            (_r(2, 5, seed=21, dtype=torch.float32), 9),
        ],
        "top_p_filter": [
            (_r(3, 8, seed=22, scale=2.0), 0.5),
            (_r(3, 8, seed=23), 0.9),
            (torch.zeros(2, 4), 0.5),
            (torch.tensor([0.1, 0.6, 0.3]).log(), 0.7),
        ],
        "sample_token": [
            (torch.zeros(4), 1.0, torch.tensor(0.5)),
            (_r(5, 7, seed=24), 0.5, torch.rand(5, generator=_gen(25), dtype=torch.float64)),
            (_r(5, 7, seed=26), 0.0, torch.rand(5, generator=_gen(27), dtype=torch.float64)),
            (torch.tensor([0.0, 1.0, 3.0]), 0.0, torch.tensor(0.2)),
            (_r(6, seed=28), 2.0, torch.tensor(0.7, dtype=torch.float64)),
        ],
        "perplexity": [
            (_r(2, 5, 7, seed=29), targets),
            (_r(2, 5, 7, seed=30, scale=1000.0), targets),
            (_r(2, 5, 7, seed=31, dtype=torch.float32), targets.clamp(min=0)),
            # one target far below its row's maximum: its softmax underflows, its log-probability does not
            (_r(2, 5, 7, seed=33) + _far_target(targets), targets),
            # every target ignored: the mean over no token is nan (the docstring's promise)
            (_r(2, 5, 7, seed=34), torch.full_like(targets, -100)),
        ],
        "kv_cache_attend": [
            (
                _r(2, 3, 1, 4, seed=32),
                _r(2, 3, 1, 4, seed=33),
                _r(2, 3, 1, 5, seed=34),
                _r(2, 3, 3, 4, seed=35),
                _r(2, 3, 3, 5, seed=36),
            ),
            (
                _r(1, 2, 1, 4, seed=37),
                _r(1, 2, 1, 4, seed=38),
                _r(1, 2, 1, 4, seed=39),
                torch.zeros(1, 2, 0, 4, dtype=torch.float64),
                torch.zeros(1, 2, 0, 4, dtype=torch.float64),
            ),
        ],
        "rope": [
            (_r(2, 5, 8, seed=40), torch.arange(5) + 3),
            (_r(3, 4, seed=41, dtype=torch.float32), torch.tensor([0, 2, 9]), 100.0),
        ],
        "lora_forward": [
            (
                _r(3, 6, seed=42),
                _r(5, 6, seed=43),
                _r(5, seed=44),
                _r(2, 6, seed=45),
                _r(5, 2, seed=46),
                8.0,
            ),
            # x (..., D_in) with two leading dims, and a frozen layer without bias
            (_r(2, 3, 6, seed=47), _r(5, 6, seed=43), _r(5, seed=44), _r(2, 6, seed=45), _r(5, 2, seed=46), 8.0),
            (_r(3, 6, seed=48), _r(5, 6, seed=43), None, _r(2, 6, seed=45), _r(5, 2, seed=46), 2.0),
        ],
    }


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.is_floating_point:
            return bool(torch.isclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True).all())
        return torch.equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _outcome(func, args) -> object:
    try:
        return func(*args)
    except Exception as exc:  # a crashing mutant differs from the reference
        return exc


def _far_target(targets: torch.Tensor) -> torch.Tensor:
    """+750 on every logit but the target of the first position: that target's probability
    underflows to 0 in float64 while the mean cross-entropy (about 750 / T) stays finite."""
    shift = torch.zeros(*targets.shape, 7, dtype=torch.float64)
    first = int(targets[0, 0].clamp(min=0))
    shift[0, 0] = 750.0
    shift[0, 0, first] = 0.0
    return shift


CH9_CASES = [c for c in CASES if c.exercise.startswith("ch9.")]


@pytest.mark.parametrize("case", CH9_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    name = case.exercise.split(".", 1)[1]
    func = _as_submission(case)
    reference = getattr(ref, name)
    agree = [_same(_outcome(func, args), reference(*args)) for args in _inputs()[name]]
    if case.correct:
        assert all(agree), f"variant {case.slug} disagrees on inputs {agree.index(False)}"
    else:
        assert not all(agree), f"mutant {case.slug} agrees with the reference on every input"
