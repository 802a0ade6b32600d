"""Checks for chapter 9: BPE tokenisation, logit filters, sampling, perplexity, the KV
cache, RoPE and LoRA.

Expected values come from PyTorch built-ins in float64 (F.cross_entropy,
F.scaled_dot_product_attention) or from the reference. Exact outputs (token ids, text,
sampled indices) and filtered logits (-inf entries) go through the same `expect_close`
as every other output. Known mistakes are not written here: each is student code
registered in `solutions/mistakes/ch9_llm.py`, and `expect_close` names the one a wrong
answer matches. Decisions that rounding could flip (a cumulative probability next to p
or u) are kept at a safe distance from every threshold.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import exercise
from grader.compare import CheckFailure, expect, expect_close, expect_stable, fail
from grader.diagnose import show
from grader.precision import truth
from grader.strategies import float_dtypes, generator, labels, seeds, sizes, tensors

NEG_INF = float("-inf")


# --- BPE ---------------------------------------------------------------------------------


# texts where the contract's rules decide: overlaps, ties, early stop
CRAFTED_TEXTS = [
    "aaa",
    "aaaa",
    "aaab",
    "aaabdaaabac",
    "abcdcdab",
    "abab",
    "aaaaab",
    "abcabcabc",
    "bbaabbaa",
    "xyzyzxyx",
    "aaabbbaaabbb",
    "the theme of the thesis: then, there, these",
    "abc",
    "",
]


def small_alphabet_texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Short texts over a few letters: many repeated, overlapping and tied pairs."""
    return st.one_of(st.sampled_from(CRAFTED_TEXTS), st.text(alphabet="ab", max_size=max_size), st.text(alphabet="abc ", max_size=max_size))


def unicode_texts(max_size: int = 30) -> st.SearchStrategy[str]:
    """Any Unicode text (multi-byte characters, emoji, combining marks), or a repeated
    piece of it, so that merges cut through characters."""
    return st.one_of(st.text(max_size=max_size), st.text(max_size=6).map(lambda s: s * 4), st.text(alphabet="é日本語 🙂a", max_size=max_size))


def _words_text(seed: int, length: int) -> str:
    """A long pseudo-text from a few (partly multi-byte) words."""
    words = ["the", "then", "these", "there", "theme", "ça", "va", "日本語", "ab", "aaa", "🙂", "thesis"]
    g = generator(seed)
    picks = torch.randint(len(words), (length,), generator=g).tolist()
    return " ".join(words[i] for i in picks)


@exercise("ch9.bpe_train", points=3)
@given(text=small_alphabet_texts(), num_merges=sizes(0, 12))
def check_bpe_train_follows_the_merge_rules(student, ref, text, num_merges):
    expect_close(
        student.bpe_train(text, num_merges),
        ref.bpe_train(text, num_merges),
        name="merges",
        inputs=dict(text=text, num_merges=num_merges),
    )


@exercise("ch9.bpe_train", points=2)
@given(text=unicode_texts(), num_merges=sizes(0, 20))
def check_bpe_train_on_any_unicode_text(student, ref, text, num_merges):
    expect_close(
        student.bpe_train(text, num_merges),
        ref.bpe_train(text, num_merges),
        name="merges",
        inputs=dict(text=text, num_merges=num_merges),
    )


@exercise("ch9.bpe_train", points=1, hidden=True)
@given(seed=seeds(), length=sizes(100, 400), num_merges=sizes(20, 60))
def check_bpe_train_on_a_long_text(student, ref, seed, length, num_merges):
    text = _words_text(seed, length)
    expect_close(student.bpe_train(text, num_merges), ref.bpe_train(text, num_merges), name="merges")


@st.composite
def random_merges(draw, alphabet: str = "abc", max_merges: int = 8):
    """A valid merge list that training need not produce: merges[k] pairs two ids among
    the alphabet's bytes and the ids 256 .. 255 + k made before it."""
    g = generator(draw(seeds()))
    pool = sorted(set(alphabet.encode("utf-8")))
    merges: list[tuple[int, int]] = []
    for _ in range(draw(sizes(1, max_merges))):
        a, b = (int(torch.randint(len(pool), (), generator=g)) for _ in range(2))
        if (pool[a], pool[b]) not in merges:  # a pair merged once never occurs again
            merges.append((pool[a], pool[b]))
            pool.append(255 + len(merges))
    return merges


@exercise("ch9.bpe_encode", points=2)
@given(train=unicode_texts(), extra=st.text(max_size=8), num_merges=sizes(0, 20))
def check_bpe_encode_round_trips_any_unicode_text(student, ref, train, extra, num_merges):
    # merges learned on one text, applied to that text with something new around it
    merges = ref.bpe_train(train, num_merges)
    text = extra + train + extra[::-1]
    ids = student.bpe_encode(text, merges)
    expect_close(ids, ref.bpe_encode(text, merges), name="ids", inputs=dict(text=text, merges=merges))
    expect(ref.bpe_decode(ids, merges) == text, "mistake.ch9.bpe_encode.not_round_trip")


@exercise("ch9.bpe_encode", points=1)
@given(merges=random_merges(), text=st.text(alphabet="abc", max_size=24))
def check_bpe_encode_applies_merges_in_creation_order(student, ref, merges, text):
    expect_close(
        student.bpe_encode(text, merges),
        ref.bpe_encode(text, merges),
        name="ids",
        inputs=dict(text=text, merges=merges),
    )


@exercise("ch9.bpe_encode", points=1, hidden=True)
@given(seed=seeds(), length=sizes(100, 300), num_merges=sizes(20, 60))
def check_bpe_encode_a_long_text(student, ref, seed, length, num_merges):
    merges = ref.bpe_train(_words_text(seed, length), num_merges)
    text = _words_text(seed + 1, length)
    expect_close(student.bpe_encode(text, merges), ref.bpe_encode(text, merges), name="ids")


@exercise("ch9.bpe_decode", points=1.5)
@given(text=unicode_texts(), num_merges=sizes(0, 12))
def check_bpe_decode_round_trips_any_unicode_text(student, ref, text, num_merges):
    merges = ref.bpe_train(text, num_merges)
    ids = ref.bpe_encode(text, merges)
    expect_close(student.bpe_decode(ids, merges), text, name="text", inputs=dict(ids=ids, merges=merges))


@st.composite
def raw_ids(draw):
    """Token ids that need not form valid UTF-8: stray continuation bytes, cut
    multi-byte characters, merged ids among them."""
    merges = draw(random_merges(alphabet="é日a\x80", max_merges=5))
    g = generator(draw(seeds()))
    top = 256 + len(merges)
    picks = [0xC3, 0xA9, 0xE6, 0x97, 0xA5, 0x80, 0xFF, 0x61, 0x20]
    ids = []
    for _ in range(draw(sizes(1, 10))):
        r = float(torch.rand((), generator=g))
        ids.append(picks[int(torch.randint(len(picks), (), generator=g))] if r < 0.6 else int(torch.randint(256, top, (), generator=g)))
    return ids, merges


@exercise("ch9.bpe_decode", points=1)
@given(case=raw_ids())
def check_bpe_decode_replaces_invalid_bytes(student, ref, case):
    ids, merges = case
    expect_close(student.bpe_decode(ids, merges), ref.bpe_decode(ids, merges), name="text", inputs=dict(ids=ids, merges=merges))


@exercise("ch9.bpe_decode", points=0.5, hidden=True)
@given(seed=seeds(), length=sizes(100, 300), num_merges=sizes(20, 60))
def check_bpe_decode_a_long_text(student, ref, seed, length, num_merges):
    text = _words_text(seed, length)
    merges = ref.bpe_train(text, num_merges)
    ids = ref.bpe_encode(text, merges)
    expect_close(student.bpe_decode(ids, merges), text, name="text")


# --- logit filters ---------------------------------------------------------------------------


# filtered logits: kept entries unchanged, the rest -inf; a wrong set of kept tokens that
# no known mistake explains gets the filters' own message
KEPT_SET = "mistake.ch9.filter_kept_set"


@st.composite
def logits_case(draw, max_v: int = 8, max_rows: int = 4, min_v: int = 2):
    """Logits of shape (V,), (N, V) or (2, N, V): on a coarse grid (many exact ties) or
    normal with a drawn scale, sometimes with -inf entries or huge magnitudes."""
    dtype = draw(float_dtypes())
    v = draw(sizes(min_v, max_v))
    lead = draw(st.sampled_from([(), (draw(sizes(1, max_rows)),), (2, draw(sizes(1, max_rows)))]))
    shape = lead + (v,)
    if draw(st.booleans()):
        g = generator(draw(seeds()))
        x = torch.randint(-3, 4, shape, generator=g).double() * 0.5
    else:
        x = draw(tensors(shape, torch.float64, scale=draw(st.sampled_from([1.0, 3.0, 30.0]))))
    return x.to(dtype)


@exercise("ch9.top_k_filter", points=2)
@given(logits=logits_case(), data=st.data())
def check_top_k_filter_keeps_ties_with_the_kth_largest(student, ref, logits, data):
    k = data.draw(sizes(1, logits.shape[-1]), label="k")
    got = student.top_k_filter(logits, k)
    expect_close(got, truth(ref.top_k_filter, logits, k), name="filtered", inputs=dict(logits=logits, k=k), otherwise=KEPT_SET)


@exercise("ch9.top_k_filter", points=0.5)
@given(logits=logits_case(max_v=5), extra=sizes(0, 3), with_inf=st.booleans())
def check_top_k_filter_k_at_least_vocab_and_infinite_logits(student, ref, logits, extra, with_inf):
    if with_inf:  # logits already filtered once: -inf entries stay -inf, the rest survives
        logits = logits.clone()
        logits[..., 0] = NEG_INF
    k = logits.shape[-1] + extra
    got = student.top_k_filter(logits, k)
    expect_close(got, truth(ref.top_k_filter, logits, k), name="filtered", inputs=dict(logits=logits, k=k), otherwise=KEPT_SET)


@exercise("ch9.top_k_filter", points=0.5, hidden=True)
@given(logits=logits_case(max_v=50, max_rows=8), data=st.data())
def check_top_k_filter_larger_vocabularies(student, ref, logits, data):
    k = data.draw(sizes(1, logits.shape[-1] + 2), label="k")
    got = student.top_k_filter(logits, k)
    expect_close(got, truth(ref.top_k_filter, logits, k), name="filtered", otherwise=KEPT_SET)


def _mass_before(logits64: torch.Tensor) -> torch.Tensor:
    """(..., V - 1): the probability mass before each sorted token but the first."""
    sp = torch.sort(torch.softmax(logits64, dim=-1), dim=-1, descending=True, stable=True).values
    return (sp.cumsum(-1) - sp)[..., 1:]


@st.composite
def top_p_case(draw, max_v: int = 8, max_rows: int = 4):
    """Logits and a p at least 1e-4 away from the mass before any sorted token, so that
    float32 rounding cannot change a decision; p sits between two tied tokens when
    the draw allows, so the tie order matters."""
    logits = draw(logits_case(max_v=max_v, max_rows=max_rows))
    before = _mass_before(logits.double())
    mode = draw(st.sampled_from(["between", "between", "fixed", "tiny", "one"]))
    flat = before.reshape(-1, before.shape[-1])
    if mode == "between":
        row = flat[draw(st.integers(0, flat.shape[0] - 1))]
        edges = torch.cat([torch.zeros(1, dtype=row.dtype), row])  # mass before sorted 0, 1, ...
        j = draw(st.integers(0, edges.numel() - 2))
        p = float((edges[j] + edges[j + 1]) / 2)
    elif mode == "fixed":
        p = draw(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, 0.95]))
    else:
        p = 1e-9 if mode == "tiny" else 1.0
    if not bool(((before - p).abs() > 1e-4).all()):
        p = 1e-9  # always safe: the mass before the second token is at least 1 / V
    return logits, p


@exercise("ch9.top_p_filter", points=3)
@given(case=top_p_case())
def check_top_p_filter_keeps_the_token_crossing_p(student, ref, case):
    logits, p = case
    expect_close(
        student.top_p_filter(logits, p),
        truth(ref.top_p_filter, logits, p),
        name="filtered",
        inputs=dict(logits=logits, p=p),
        otherwise=KEPT_SET,
    )


@exercise("ch9.top_p_filter", points=1)
@given(data=st.data(), dtype=float_dtypes(), v=sizes(2, 6), p=st.sampled_from([1e-9, 1e-3, 0.5, 0.99, 1.0]))
def check_top_p_filter_extreme_p_and_ties(student, ref, data, dtype, v, p):
    # equal logits (all tied), or one huge gap: p -> 0 keeps the first top token only,
    # p = 1 keeps every token of positive probability
    kind = data.draw(st.sampled_from(["all_tied", "top_tied", "huge"]), label="kind")
    logits = torch.zeros(2, v, dtype=torch.float64)
    if kind == "top_tied":
        logits[:, 1:] = -1.0
        logits[:, -1] = 0.0
    elif kind == "huge":
        logits[0, -1], logits[1, 0] = 1e4, -1e4
    logits = logits.to(dtype)
    before = _mass_before(logits.double())
    if not bool(((before - p).abs() > 1e-4).all()):
        p = 1e-9
    expect_close(
        student.top_p_filter(logits, p),
        truth(ref.top_p_filter, logits, p),
        name="filtered",
        inputs=dict(logits=logits, p=p),
        otherwise=KEPT_SET,
    )


@exercise("ch9.top_p_filter", points=1, hidden=True)
@given(case=top_p_case(max_v=40, max_rows=6))
def check_top_p_filter_larger_vocabularies(student, ref, case):
    logits, p = case
    expect_close(student.top_p_filter(logits, p), truth(ref.top_p_filter, logits, p), name="filtered", otherwise=KEPT_SET)


# --- sampling --------------------------------------------------------------------------------


def _cdf(logits64: torch.Tensor, temperature: float) -> torch.Tensor:
    return torch.softmax(logits64 / temperature, dim=-1).cumsum(-1)


def _safe_u(logits64: torch.Tensor, temperature: float, u: torch.Tensor) -> torch.Tensor:
    """Move each draw that lies within 1e-5 of a cumulative probability (of the right
    distribution or of the temperature-multiplied one) to the middle of the widest gap."""
    edges = torch.cat([_cdf(logits64, temperature), _cdf(logits64 * temperature, 1.0)], dim=-1).reshape(-1, 2 * logits64.shape[-1])
    u = u.reshape(-1).clone()
    for r in range(u.numel()):
        e = torch.cat([torch.tensor([0.0, 1.0], dtype=torch.float64), edges[r]]).sort().values
        if bool(((e - u[r]).abs() < 1e-5).any()):
            gaps = e[1:] - e[:-1]
            j = int(gaps.argmax())
            u[r] = (e[j] + e[j + 1]) / 2
    return u


@st.composite
def sample_case(draw, max_v=8, max_n=6):
    dtype = draw(float_dtypes())
    v = draw(sizes(2, max_v))
    batched = draw(st.booleans())
    n = draw(sizes(1, max_n))
    shape = (n, v) if batched else (v,)
    logits = draw(tensors(shape, torch.float64, scale=draw(st.sampled_from([1.0, 3.0]))))
    if draw(st.booleans()):  # an already filtered row: some tokens have probability 0
        logits[..., draw(st.integers(0, v - 1))] = NEG_INF
    temperature = draw(st.sampled_from([0.5, 0.7, 1.0, 2.0]))
    u = torch.rand(shape[:-1], generator=generator(draw(seeds())), dtype=torch.float64)
    u = _safe_u(logits, temperature, u).reshape(shape[:-1])
    return logits.to(dtype), temperature, u.to(dtype)


@exercise("ch9.sample_token", points=1.5)
@given(case=sample_case())
def check_sample_token_inverse_cdf(student, ref, case):
    logits, temperature, u = case
    expect_close(
        student.sample_token(logits, temperature, u),
        truth(ref.sample_token, logits, temperature, u),
        name="token",
        inputs=dict(logits=logits, temperature=temperature, u=u),
    )


@exercise("ch9.sample_token", points=0.5)
@given(data=st.data(), dtype=float_dtypes(), v=st.sampled_from([2, 4, 8]), zeros=sizes(0, 2), batched=st.booleans())
def check_sample_token_u_on_a_boundary_goes_to_the_next_token(student, ref, data, dtype, v, zeros, batched):
    # v equal logits (exact probabilities 1 / v) and some -inf (probability 0); u equal
    # to a cumulative probability must pick the next token of positive probability
    g = generator(data.draw(seeds(), label="seed"))
    logits = torch.zeros(v + zeros, dtype=torch.float64)
    logits[torch.randperm(v + zeros, generator=g)[:zeros]] = NEG_INF
    steps = torch.arange(v, dtype=torch.float64) / v  # 0, 1/v, ..., (v-1)/v: every boundary
    temperature = data.draw(st.sampled_from([0.5, 1.0, 3.0]), label="temperature")
    if batched:
        logits, u = logits.expand(v, -1).contiguous(), steps
    else:
        u = steps[data.draw(st.integers(0, v - 1), label="boundary")]
    logits, u = logits.to(dtype), u.to(dtype)
    expect_close(
        student.sample_token(logits, temperature, u),
        truth(ref.sample_token, logits, temperature, u),
        name="token",
        inputs=dict(logits=logits, temperature=temperature, u=u),
    )


@exercise("ch9.sample_token", points=1)
@given(data=st.data(), dtype=float_dtypes(), v=sizes(2, 6), batched=st.booleans())
def check_sample_token_temperature_zero_is_argmax(student, ref, data, dtype, v, batched):
    # logits on a coarse grid: the maximum is often tied (the lowest index wins)
    g = generator(data.draw(seeds(), label="seed"))
    shape = (data.draw(sizes(1, 5), label="n"), v) if batched else (v,)
    logits = (torch.randint(-2, 3, shape, generator=g).double() * 0.5).to(dtype)
    u = torch.rand(shape[:-1], generator=g, dtype=torch.float64).to(dtype)
    expect_close(
        student.sample_token(logits, 0.0, u),
        torch.argmax(logits, dim=-1),
        name="token",
        inputs=dict(logits=logits, temperature=0.0, u=u),
        otherwise="mistake.ch9.sample_token.no_greedy_case",
    )


# fixed distributions for the chi-square check: with fixed draws the statistic is the
# same for every correct solution, so the check never flakes
CHI2_CASES = [
    ((2.0, 1.0, 0.5, -1.0, 0.0), 1.0),
    ((2.0, 1.0, 0.5, -1.0, 0.0), 0.5),
    ((2.0, 1.0, 0.5, -1.0, 0.0), 2.0),
    ((0.0, 0.0, 1.0, 3.0), 1.5),
    ((1.0, -2.0, 0.3, 0.0, 0.7, -0.5), 0.7),
]
CHI2_DRAWS = 4000
CHI2_LIMIT = 35.0  # chi-square with <= 5 degrees of freedom: p-value below 1e-5


def _chi2(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


@exercise("ch9.sample_token", points=0.5)
@given(case=st.sampled_from(CHI2_CASES), dtype=float_dtypes())
def check_sample_token_frequencies_follow_softmax_over_temperature(student, ref, case, dtype):
    values, temperature = case
    logits = torch.tensor(values, dtype=torch.float64).expand(CHI2_DRAWS, -1).to(dtype)
    u = torch.rand(CHI2_DRAWS, generator=generator(12345), dtype=torch.float64).to(dtype)
    got = student.sample_token(logits, temperature, u)
    expected = truth(ref.sample_token, logits, temperature, u)
    in_range = isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == expected.dtype and bool(((got >= 0) & (got < logits.shape[-1])).all())
    if not in_range:
        expect_close(got, expected, name="tokens")  # not (N,) int64 ids in range: say so
    counts = torch.bincount(got, minlength=logits.shape[-1]).double()
    probs = torch.softmax(torch.tensor(values, dtype=torch.float64) / temperature, dim=-1)
    stat = _chi2(counts, probs)
    if stat > CHI2_LIMIT:
        swapped = torch.softmax(torch.tensor(values, dtype=torch.float64) * temperature, dim=-1)
        if _chi2(counts, swapped) <= CHI2_LIMIT:
            fail("mistake.ch9.sample_token.temperature_multiplies")
        fail("mistake.ch9.sample_token.wrong_distribution", draws=CHI2_DRAWS, stat=stat)
    share = float((got == expected).double().mean())
    expect(share >= 0.99, "mistake.ch9.sample_token.ignores_u", share=share)


@exercise("ch9.sample_token", points=0.5, hidden=True)
@given(case=sample_case(max_v=60, max_n=20))
def check_sample_token_larger_vocabularies(student, ref, case):
    logits, temperature, u = case
    expect_close(student.sample_token(logits, temperature, u), truth(ref.sample_token, logits, temperature, u), name="token")


# --- perplexity ------------------------------------------------------------------------------


@st.composite
def lm_case(draw, max_n=3, max_t=5, max_v=6):
    """(logits (N, T, V), targets (N, T) with some ignore_index entries, ignore_index)."""
    dtype = draw(float_dtypes())
    n, t, v = draw(sizes(1, max_n)), draw(sizes(1, max_t)), draw(sizes(2, max_v))
    logits = draw(tensors((n, t, v), dtype, scale=draw(st.sampled_from([1.0, 3.0]))))
    ignore_index = draw(st.sampled_from([-100, -1, 0]))
    targets = draw(labels(n * t, v)).reshape(n, t)
    g = generator(draw(seeds()))
    padding = torch.rand(n, t, generator=g) < draw(st.sampled_from([0.0, 0.3, 0.6]))
    targets = targets.masked_fill(padding, ignore_index)
    if not bool((targets != ignore_index).any()):
        targets[0, 0] = 1  # at least one scored token
    return logits, targets, ignore_index


def _perplexity_truth(logits, targets, ignore_index):
    def run(logits):
        v = logits.shape[-1]
        return torch.exp(F.cross_entropy(logits.reshape(-1, v), targets.reshape(-1), ignore_index=ignore_index))

    return truth(run, logits)


@exercise("ch9.perplexity", points=2)
@given(case=lm_case())
def check_perplexity_matches_cross_entropy_with_ignore_index(student, ref, case):
    logits, targets, ignore_index = case
    expect_close(
        student.perplexity(logits, targets, ignore_index),
        _perplexity_truth(logits, targets, ignore_index),
        name="perplexity",
        inputs=dict(logits=logits, targets=targets, ignore_index=ignore_index),
    )


@st.composite
def far_target_case(draw):
    """An lm_case shifted by +-1000 (exp of a raw logit overflows) in which one scored
    target sits `gap` below its row's maximum: its probability underflows to 0 in
    float32 (exp(-110) < 1e-45), while the mean cross-entropy, over at least two scored
    tokens, stays below 88 so the perplexity is finite in float32 too."""
    logits, targets, ignore_index = draw(lm_case())
    logits = logits.double()
    n, t, v = logits.shape
    if n * t < 2:
        logits, targets = torch.cat([logits, logits], dim=1), torch.cat([targets, targets], dim=1)
    flat_targets = targets.reshape(-1).clone()
    flat_targets[:2] = flat_targets[:2].masked_fill(flat_targets[:2] == ignore_index, 1)  # two scored tokens
    targets = flat_targets.reshape(targets.shape)
    gap = draw(st.sampled_from([110.0, 130.0]))
    row = logits[0, 0]
    row[targets[0, 0]] = row.max() - gap
    offset = draw(st.sampled_from([1000.0, -1000.0]))
    return logits + offset, targets, ignore_index


@exercise("ch9.perplexity", points=0.5)
@given(case=far_target_case())
def check_perplexity_stable_for_large_logits(student, ref, case):
    logits, targets, ignore_index = case
    # float32 logits near 1000 carry rounding of ~6e-5, which exp turns into a relative
    # error of that size (times the ~100 of the far target) in the answer
    expect_stable(
        student.perplexity,
        _perplexity_truth,
        dict(logits=logits, targets=targets, ignore_index=ignore_index),
        name="perplexity",
        per_dtype=lambda logits, **_: {"rtol": 1e-3, "atol": 1e-4} if logits.dtype == torch.float32 else {},
    )


@exercise("ch9.perplexity", points=1)
@given(case=lm_case())
def check_perplexity_is_nan_when_every_target_is_ignored(student, ref, case):
    logits, targets, ignore_index = case
    targets = torch.full_like(targets, ignore_index)  # nothing scored: the mean is 0 / 0
    inputs = dict(logits=logits, targets=targets, ignore_index=ignore_index)
    got = student.perplexity(logits, targets, ignore_index)
    # the docstring's promise, as F.cross_entropy's mean over no token: nan
    if isinstance(got, torch.Tensor) and got.shape == () and got.dtype == logits.dtype and not bool(got.isnan()):
        fail("mistake.ch9.perplexity.all_ignored", {"inputs": show(inputs), "got": show(got)}, got=f"{float(got):.6g}")
    expect_close(got, _perplexity_truth(logits, targets, ignore_index), name="perplexity", inputs=inputs)


@exercise("ch9.perplexity", points=0.5, hidden=True)
@given(case=lm_case(max_n=6, max_t=20, max_v=40))
def check_perplexity_larger_batches(student, ref, case):
    logits, targets, ignore_index = case
    expect_close(student.perplexity(logits, targets, ignore_index), _perplexity_truth(logits, targets, ignore_index), name="perplexity")


# --- KV cache ------------------------------------------------------------------------------


@st.composite
def attention_sizes(draw, max_t=5, max_side=3, max_d=4):
    dtype = draw(float_dtypes())
    n, h = draw(sizes(1, 2)), draw(sizes(1, max_side))
    d, dv = draw(sizes(1, max_d)), draw(sizes(1, max_d))
    scale = draw(st.sampled_from([1.0, 1.0, 10.0]))  # 10: scores of hundreds, exp overflows
    return dtype, n, h, draw(sizes(0, max_t)), d, dv, scale


@st.composite
def kv_step_case(draw, max_t=5):
    dtype, n, h, t, d, dv, scale = draw(attention_sizes(max_t=max_t))
    q = draw(tensors((n, h, 1, d), dtype, scale=scale))
    k = draw(tensors((n, h, 1, d), dtype, scale=scale))
    v = draw(tensors((n, h, 1, dv), dtype))
    cache_k = draw(tensors((n, h, t, d), dtype, scale=scale))
    cache_v = draw(tensors((n, h, t, dv), dtype))
    return q, k, v, cache_k, cache_v


def _expect_kv_step(ref, got, q, k, v, cache_k, cache_v, inputs=None, step=""):
    expect_close(
        got,
        truth(ref.kv_cache_attend, q, k, v, cache_k, cache_v),
        name=(f"out{step}", f"cache_k{step}", f"cache_v{step}"),
        inputs=inputs,
    )


@exercise("ch9.kv_cache_attend", points=2)
@given(case=kv_step_case())
def check_kv_cache_attend_one_step(student, ref, case):
    q, k, v, cache_k, cache_v = case
    got = student.kv_cache_attend(q, k, v, cache_k, cache_v)
    _expect_kv_step(ref, got, q, k, v, cache_k, cache_v, inputs=dict(q_t=q, k_t=k, v_t=v, cache_k=cache_k, cache_v=cache_v))


@st.composite
def sequence_case(draw, max_t=6):
    dtype, n, h, _, d, dv, scale = draw(attention_sizes())
    t = draw(sizes(1, max_t))
    q = draw(tensors((n, h, t, d), dtype, scale=scale))
    k = draw(tensors((n, h, t, d), dtype, scale=scale))
    v = draw(tensors((n, h, t, dv), dtype))
    return q, k, v


def _decode_sequence(student, ref, q, k, v):
    """Decode step by step from empty caches, feeding back the student's caches. Each
    step is compared with the truth for the right caches (the sequence so far), which
    do not depend on the student's answer."""
    n, h, t, d = q.shape
    cache_k, cache_v = q.new_zeros(n, h, 0, d), v.new_zeros(n, h, 0, v.shape[-1])
    outs = []
    for s in range(t):
        step = [x[:, :, s : s + 1] for x in (q, k, v)]
        got = student.kv_cache_attend(*step, cache_k, cache_v)
        _expect_kv_step(ref, got, *step, k[:, :, :s], v[:, :, :s], step=f" at step {s}")
        out, cache_k, cache_v = got
        outs.append(out)
    return torch.cat(outs, dim=-2)


@exercise("ch9.kv_cache_attend", points=1.5)
@given(case=sequence_case())
def check_kv_cache_decoding_equals_causal_attention(student, ref, case):
    q, k, v = case
    expected = truth(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, k, v)
    expect_close(_decode_sequence(student, ref, q, k, v), expected, name="outputs of the whole sequence", inputs=dict(q=q, k=k, v=v))


@exercise("ch9.kv_cache_attend", points=0.5, hidden=True)
@given(case=sequence_case(max_t=16))
def check_kv_cache_decoding_longer_sequences(student, ref, case):
    q, k, v = case
    expected = truth(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, k, v)
    expect_close(_decode_sequence(student, ref, q, k, v), expected, name="outputs of the whole sequence")


# --- RoPE ------------------------------------------------------------------------------------


@st.composite
def rope_case(draw, max_t=5, max_pairs=4, max_position=64):
    dtype = draw(float_dtypes())
    lead = draw(st.sampled_from([(), (2,), (2, 3)]))
    t, d = draw(sizes(1, max_t)), 2 * draw(sizes(1, max_pairs))
    x = draw(tensors(lead + (t, d), dtype))
    g = generator(draw(seeds()))
    if draw(st.booleans()):  # a decoding offset: positions start past 0
        positions = torch.arange(t) + int(torch.randint(0, max_position, (), generator=g))
    else:
        positions = torch.randint(0, max_position, (t,), generator=g)
    base = draw(st.sampled_from([10000.0, 10000.0, 500.0, 10.0]))
    return x, positions, base


@exercise("ch9.rope", points=2)
@given(case=rope_case())
def check_rope_rotates_adjacent_pairs(student, ref, case):
    x, positions, base = case
    expect_close(
        student.rope(x, positions, base),
        truth(ref.rope, x, positions, base),
        name="rotated",
        inputs=dict(x=x, positions=positions, base=base),
    )


@exercise("ch9.rope", points=1)
@given(case=rope_case(), shift=sizes(1, 50), seed=seeds())
def check_rope_keeps_norms_and_scores_depend_on_relative_position(student, ref, case, shift, seed):
    q, positions, base = case
    k = torch.randn(q.shape, generator=generator(seed), dtype=torch.float64).to(q.dtype)
    rq, rk = student.rope(q, positions, base), student.rope(k, positions, base)
    expect_close(rq, truth(ref.rope, q, positions, base), name="rotated", inputs=dict(x=q, positions=positions, base=base))
    tol = dict(rtol=1e-3, atol=1e-4) if q.dtype == torch.float32 else dict(rtol=1e-9, atol=1e-10)
    # each pair is rotated: the length of every pair, so of every row, is unchanged
    pair_norms = lambda x: x.double().unflatten(-1, (-1, 2)).norm(dim=-1)  # noqa: E731
    expect(torch.allclose(pair_norms(rq), pair_norms(q), **tol), "mistake.ch9.rope.not_a_rotation")
    # shifting every position by the same amount changes no score q_m . k_n
    shifted_q, shifted_k = student.rope(q, positions + shift, base), student.rope(k, positions + shift, base)
    scores = rq.double() @ rk.double().transpose(-2, -1)
    shifted = shifted_q.double() @ shifted_k.double().transpose(-2, -1)
    expect(torch.allclose(shifted, scores, **tol), "mistake.ch9.rope.not_relative", shift=shift)


@exercise("ch9.rope", points=1, hidden=True)
@given(case=rope_case(max_t=12, max_pairs=16, max_position=4096))
def check_rope_long_contexts_and_wide_heads(student, ref, case):
    x, positions, base = case
    # float32 angles near 4096 rad carry rounding of ~5e-4 rad (x's dtype, as the
    # contract says), so float32 answers get a looser tolerance
    tol = {"rtol": 3e-3, "atol": 3e-3} if x.dtype == torch.float32 else {}
    expect_close(student.rope(x, positions, base), truth(ref.rope, x, positions, base), name="rotated", **tol)


# --- LoRA ------------------------------------------------------------------------------------


@st.composite
def lora_case(draw, max_side=5, max_r=4):
    dtype = draw(float_dtypes())
    n, d_in, d_out, r = draw(sizes(1, max_side)), draw(sizes(1, max_side)), draw(sizes(1, max_side)), draw(sizes(1, max_r))
    x = draw(tensors((n, d_in), dtype))
    W = draw(tensors((d_out, d_in), dtype))
    b = draw(tensors((d_out,), dtype))
    A = draw(tensors((r, d_in), dtype))
    B = draw(tensors((d_out, r), dtype))
    alpha = draw(st.sampled_from([0.5, 1.0, 4.0, 16.0]))
    return x, W, b, A, B, alpha


def _lora_truth(ref, x, W, b, A, B, alpha):
    # the merged layer W + (alpha / r) B A, an independent formulation
    return truth(lambda x, W, b, A, B: ref.lora_merged_layer(x, W, b, A, B, alpha), x, W, b, A, B)


@exercise("ch9.lora_forward", points=1.5)
@given(case=lora_case())
def check_lora_forward_equals_the_merged_layer(student, ref, case):
    x, W, b, A, B, alpha = case
    expect_close(
        student.lora_forward(x, W, b, A, B, alpha),
        _lora_truth(ref, x, W, b, A, B, alpha),
        name="y",
        inputs=dict(x=x, W=W, b=b, A=A, B=B, alpha=alpha),
    )


@st.composite
def lora_leading_dims_case(draw):
    """x of shape (B, T, D_in) or (B, T, S, D_in): the docstring promises x (..., D_in)."""
    _, W, b, A, B, alpha = draw(lora_case())
    lead = draw(st.sampled_from([(2, 3), (3, 1), (2, 2, 3)]))
    return draw(tensors(lead + (W.shape[1],), W.dtype)), W, b, A, B, alpha


@exercise("ch9.lora_forward", points=0.5)
@given(case=lora_leading_dims_case())
def check_lora_forward_any_leading_dims(student, ref, case):
    x, W, b, A, B, alpha = case
    try:
        expect_close(
            student.lora_forward(x, W, b, A, B, alpha),
            _lora_truth(ref, x, W, b, A, B, alpha),
            name="y",
            inputs=dict(x=x, W=W, b=b, A=A, B=B, alpha=alpha),
        )
    except CheckFailure as failure:
        # a named mistake keeps its message (a crash keeps its own too): otherwise the
        # same code handles (N, D_in) in the check above, so the leading dims are the cause
        if type(failure) is not CheckFailure or failure.key.split(".")[:2] == ["mistake", "ch9"]:
            raise
        raise CheckFailure("mistake.ch9.lora_forward.leading_dims", {"shape": tuple(x.shape)}, failure.reveal) from None


@exercise("ch9.lora_forward", points=0.5)
@given(case=lora_case())
def check_lora_forward_without_bias(student, ref, case):
    x, W, _, A, B, alpha = case
    # b=None: a frozen layer without bias, as nn.Linear(..., bias=False); the docstring allows it
    expect_close(
        student.lora_forward(x, W, None, A, B, alpha),
        _lora_truth(ref, x, W, None, A, B, alpha),
        name="y",
        inputs=dict(x=x, W=W, b=None, A=A, B=B, alpha=alpha),
    )


@exercise("ch9.lora_forward", points=0.5, hidden=True)
@given(case=lora_case(max_side=24, max_r=8))
def check_lora_forward_larger_layers(student, ref, case):
    x, W, b, A, B, alpha = case
    expect_close(student.lora_forward(x, W, b, A, B, alpha), _lora_truth(ref, x, W, b, A, B, alpha), name="y")
