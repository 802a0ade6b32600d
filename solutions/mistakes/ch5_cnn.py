"""Chapter 5, the reference side of known mistakes and of the masks the checks use.

Known mistakes: realistic student code for each `mistake.ch5.*` message of the catalogue
that a wrong value shows (im2col in the wrong layouts, a flipped kernel or a forgotten
bias, the input gradient of a convolution scattered back with the usual slips, average
pooling, and max-pooling backward passes with the usual tie and overlap mistakes),
registered by its key (`solutions.mistakes.mistake`). Each is written as a student would
write the exercise function in `solutions/ch5_cnn.py`, and runs in that module's
namespace (torch, F and the chapter's functions such as `im2col`, as the references
define them), so the mutant suite can grade it as a submission unchanged. Where two
could give the same wrong answer, the one listed first is named.

Not registered: the mistakes that show as a wrong shape (stride or padding ignored, or
applied on one side or one axis only, ceil mode, a dx of the padded shape). The checks
name those from the shape alone (`grader.checks.ch5_cnn._expect_shape`), computed from
the check's own stride and padding, whatever the values; they fail before any value is
compared, so a registered function would never be looked up. Nor the max pooling whose
running maximum starts at 0 (`maxpool2d_forward.zero_init`): it is right unless a window
is all negative, which none of the fixed inputs of `tests/solutions/test_ch5_reference.py`
has, where every registered mistake must differ from the reference; the check names it
from its own one-entry table.

Masks: the pixels that the tie and overlap rules of max pooling decide, reached through
`ref` (`ref.maxpool_tie_mask(x, k, s)`), so a check can name an answer wrong only there.

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from solutions.mistakes import mistake

# --- im2col ----------------------------------------------------------------------------------


@mistake("ch5.im2col.layout")
def im2col(x, kernel_size, stride=1, padding=0):
    # rows ordered (i, j, c) instead of F.unfold's (c, i, j)
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    n, c = x.shape[0], x.shape[1]
    xp = F.pad(x, (padding, padding, padding, padding))
    patches = xp.unfold(2, kh, stride).unfold(3, kw, stride)  # (N, C, Ho, Wo, kh, kw)
    ho, wo = patches.shape[2], patches.shape[3]
    return patches.permute(0, 4, 5, 1, 2, 3).reshape(n, c * kh * kw, ho * wo)


@mistake("ch5.im2col.patch_order")
def im2col(x, kernel_size, stride=1, padding=0):
    # patches listed column by column (wo, ho) instead of row by row
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    n, c = x.shape[0], x.shape[1]
    xp = F.pad(x, (padding, padding, padding, padding))
    patches = xp.unfold(2, kh, stride).unfold(3, kw, stride)
    ho, wo = patches.shape[2], patches.shape[3]
    return patches.permute(0, 1, 4, 5, 3, 2).reshape(n, c * kh * kw, ho * wo)


# --- conv2d_forward --------------------------------------------------------------------------


@mistake("ch5.conv2d_forward.kernel_flipped")
def conv2d_forward(x, w, b, stride=1, padding=0):
    # a true convolution: the kernel flipped in both spatial dims
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    cols = im2col(x, (kh, kw), stride, padding)
    out = w.flip(-1, -2).reshape(f, -1) @ cols + b.reshape(1, f, 1)
    return out.reshape(n, f, ho, wo)


@mistake("ch5.conv2d_forward.bias")
def conv2d_forward(x, w, b, stride=1, padding=0):
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    cols = im2col(x, (kh, kw), stride, padding)
    return (w.reshape(f, -1) @ cols).reshape(n, f, ho, wo)  # no bias


# --- conv2d_backward -------------------------------------------------------------------------


@mistake("ch5.conv2d_backward.dx_overlap")
def conv2d_backward(dout, x, w, stride=1, padding=0):
    # "=" instead of "+=": a pixel covered by several windows keeps only the last one
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout_flat = dout.reshape(n, f, ho * wo)
    db = dout.sum(dim=(0, 2, 3))
    cols = im2col(x, (kh, kw), stride, padding)
    dw = (dout_flat @ cols.transpose(1, 2)).sum(dim=0).reshape(w.shape)
    dcols = (w.reshape(f, -1).T @ dout_flat).reshape(n, c, kh, kw, ho, wo)
    dxp = x.new_zeros((n, c, h + 2 * padding, wd + 2 * padding))
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] = dcols[:, :, i, j]
    return dxp[:, :, padding : padding + h, padding : padding + wd], dw, db


@mistake("ch5.conv2d_backward.dx_flip")
def conv2d_backward(dout, x, w, stride=1, padding=0):
    # dx as a "full" correlation of the stride-dilated dout with the UNflipped kernel
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout_flat = dout.reshape(n, f, ho * wo)
    db = dout.sum(dim=(0, 2, 3))
    cols = im2col(x, (kh, kw), stride, padding)
    dw = (dout_flat @ cols.transpose(1, 2)).sum(dim=0).reshape(w.shape)
    dil = dout.new_zeros((n, f, (ho - 1) * stride + 1, (wo - 1) * stride + 1))
    dil[:, :, ::stride, ::stride] = dout
    full = F.pad(dil, (kw - 1, kw - 1, kh - 1, kh - 1))
    wt = w.transpose(0, 1)  # (C, F, kh, kw), should also be flipped
    dxp_valid = conv2d_forward(full, wt, w.new_zeros(c), 1, 0)
    dxp = x.new_zeros((n, c, h + 2 * padding, wd + 2 * padding))
    dxp[:, :, : dxp_valid.shape[2], : dxp_valid.shape[3]] = dxp_valid
    return dxp[:, :, padding : padding + h, padding : padding + wd], dw, db


@mistake("ch5.conv2d_backward.stride")
def conv2d_backward(dout, x, w, stride=1, padding=0):
    # dw and db are right; dx scatters the windows as if the stride were 1
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout_flat = dout.reshape(n, f, ho * wo)
    db = dout.sum(dim=(0, 2, 3))
    cols = im2col(x, (kh, kw), stride, padding)
    dw = (dout_flat @ cols.transpose(1, 2)).sum(dim=0).reshape(w.shape)
    dcols = (w.reshape(f, -1).T @ dout_flat).reshape(n, c, kh, kw, ho, wo)
    dxp = x.new_zeros((n, c, h + 2 * padding + kh * stride, wd + 2 * padding + kw * stride))
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + ho, j : j + wo] += dcols[:, :, i, j]
    return dxp[:, :, padding : padding + h, padding : padding + wd].clone(), dw, db


@mistake("ch5.conv2d_backward.padding")
def conv2d_backward(dout, x, w, stride=1, padding=0):
    # the padding border cut away at the end only: the crop starts at the corner
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout_flat = dout.reshape(n, f, ho * wo)
    db = dout.sum(dim=(0, 2, 3))
    cols = im2col(x, (kh, kw), stride, padding)
    dw = (dout_flat @ cols.transpose(1, 2)).sum(dim=0).reshape(w.shape)
    dcols = (w.reshape(f, -1).T @ dout_flat).reshape(n, c, kh, kw, ho, wo)
    dxp = x.new_zeros((n, c, h + 2 * padding, wd + 2 * padding))
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += dcols[:, :, i, j]
    return dxp[:, :, :h, :wd].clone(), dw, db


@mistake("ch5.conv2d_backward.dw")
def conv2d_backward(dout, x, w, stride=1, padding=0):
    # dw flipped like the kernel of a convolution
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout_flat = dout.reshape(n, f, ho * wo)
    db = dout.sum(dim=(0, 2, 3))
    cols = im2col(x, (kh, kw), stride, padding)
    dw = (dout_flat @ cols.transpose(1, 2)).sum(dim=0).reshape(w.shape).flip(-1, -2)
    dcols = (w.reshape(f, -1).T @ dout_flat).reshape(n, c, kh, kw, ho, wo)
    dxp = x.new_zeros((n, c, h + 2 * padding, wd + 2 * padding))
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += dcols[:, :, i, j]
    return dxp[:, :, padding : padding + h, padding : padding + wd].clone(), dw, db


@mistake("ch5.conv2d_backward.db")
def conv2d_backward(dout, x, w, stride=1, padding=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dout_flat = dout.reshape(n, f, ho * wo)
    db = dout.mean(dim=(0, 2, 3))  # a mean, not a sum
    cols = im2col(x, (kh, kw), stride, padding)
    dw = (dout_flat @ cols.transpose(1, 2)).sum(dim=0).reshape(w.shape)
    dcols = (w.reshape(f, -1).T @ dout_flat).reshape(n, c, kh, kw, ho, wo)
    dxp = x.new_zeros((n, c, h + 2 * padding, wd + 2 * padding))
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += dcols[:, :, i, j]
    return dxp[:, :, padding : padding + h, padding : padding + wd].clone(), dw, db


# --- maxpool2d_forward -----------------------------------------------------------------------


@mistake("ch5.maxpool2d_forward.average")
def maxpool2d_forward(x, kernel_size, stride):
    k = kernel_size
    return x.unfold(2, k, stride).unfold(3, k, stride).mean(dim=(-2, -1))


# --- maxpool2d_backward ----------------------------------------------------------------------


@mistake("ch5.maxpool2d_backward.ties")
def maxpool2d_backward(dout, x, kernel_size, stride):
    # every pixel equal to the window's maximum gets the whole gradient
    k = kernel_size
    ho, wo = dout.shape[2], dout.shape[3]
    dx = x.new_zeros(x.shape)
    for r in range(ho):
        for q in range(wo):
            win = x[:, :, r * stride : r * stride + k, q * stride : q * stride + k]
            mask = win == win.amax(dim=(-2, -1), keepdim=True)
            rows, cols = slice(r * stride, r * stride + k), slice(q * stride, q * stride + k)
            dx[:, :, rows, cols] += mask * dout[:, :, r : r + 1, q : q + 1]
    return dx


@mistake("ch5.maxpool2d_backward.split_ties")
def maxpool2d_backward(dout, x, kernel_size, stride):
    # tied maxima share the window's gradient equally
    k = kernel_size
    ho, wo = dout.shape[2], dout.shape[3]
    dx = torch.zeros_like(x)
    for r in range(ho):
        for q in range(wo):
            rows, cols = slice(r * stride, r * stride + k), slice(q * stride, q * stride + k)
            win = x[:, :, rows, cols]
            mask = (win == win.amax(dim=(-2, -1), keepdim=True)).to(x.dtype)
            dx[:, :, rows, cols] += mask / mask.sum(dim=(-2, -1), keepdim=True) * dout[:, :, r : r + 1, q : q + 1]
    return dx


@mistake("ch5.maxpool2d_backward.last_max")
def maxpool2d_backward(dout, x, kernel_size, stride):
    n, c, h, wd = x.shape
    k = kernel_size
    windows = x.unfold(2, k, stride).unfold(3, k, stride)
    ho, wo = windows.shape[2], windows.shape[3]
    flat = windows.reshape(n, c, ho, wo, k * k)
    # argmax of the reversed window: the last maximum
    flat_arg = k * k - 1 - flat.flip(-1).argmax(dim=-1)
    rows = torch.arange(ho, device=x.device).reshape(ho, 1) * stride + flat_arg // k
    cols = torch.arange(wo, device=x.device).reshape(1, wo) * stride + flat_arg % k
    target = (rows * wd + cols).reshape(n, c, ho * wo)
    dx = x.new_zeros((n, c, h * wd))
    dx.scatter_add_(2, target, dout.reshape(n, c, ho * wo))
    return dx.reshape(n, c, h, wd)


@mistake("ch5.maxpool2d_backward.overlap")
def maxpool2d_backward(dout, x, kernel_size, stride):
    # scatter_ ("=") instead of scatter_add_: a pixel chosen by several windows keeps one
    n, c, h, wd = x.shape
    k = kernel_size
    windows = x.unfold(2, k, stride).unfold(3, k, stride)
    ho, wo = windows.shape[2], windows.shape[3]
    flat_arg = windows.reshape(n, c, ho, wo, k * k).argmax(dim=-1)
    rows = torch.arange(ho, device=x.device).reshape(ho, 1) * stride + flat_arg // k
    cols = torch.arange(wo, device=x.device).reshape(1, wo) * stride + flat_arg % k
    target = (rows * wd + cols).reshape(n, c, ho * wo)
    dx = x.new_zeros((n, c, h * wd))
    for m in range(ho * wo):  # windows in row-major order, the last one written wins
        dx.scatter_(2, target[:, :, m : m + 1], dout.reshape(n, c, ho * wo)[:, :, m : m + 1])
    return dx.reshape(n, c, h, wd)


# --- masks of the pixels the max-pooling rules decide ----------------------------------------


def _windows(x, k: int, s: int):
    """(N, C, Ho, Wo, k * k) view of every window, flattened row-major."""
    n, c = x.shape[:2]
    win = x.unfold(2, k, s).unfold(3, k, s)
    return win.reshape(n, c, win.shape[2], win.shape[3], k * k)


def _route(x, k: int, s: int, weights):
    """dx when window (ho, wo) sends weights[..., ho, wo, q] * 1 to its pixel q (flattened
    row-major in the window)."""
    n, c, h, w = x.shape
    ho, wo = weights.shape[2:4]
    dx = torch.zeros((n, c, h, w), dtype=weights.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + s * ho : s, j : j + s * wo : s] += weights[..., i * k + j]
    return dx


def maxpool_tie_mask(x, k: int, s: int):
    """(N, C, H, W) bool: pixels of windows whose maximum occurs more than once."""
    win = _windows(x.double(), k, s)
    tied = ((win == win.amax(dim=-1, keepdim=True)).sum(-1) > 1).double()  # (N, C, Ho, Wo)
    return _route(x.double(), k, s, tied.unsqueeze(-1).expand(*tied.shape, k * k).clone()) > 0


def maxpool_shared_max_mask(x, k: int, s: int):
    """(N, C, H, W) bool: pixels that are the chosen maximum of two or more windows."""
    win = _windows(x.double(), k, s)
    chosen = F.one_hot(win.argmax(dim=-1), k * k).double()
    return _route(x.double(), k, s, chosen) >= 2
