"""Chapter 5, the reference side of known mistakes: im2col in the wrong layouts, the input
gradient of a convolution scattered back with the usual slips, and max-pooling backward
passes with the usual tie and overlap mistakes (plus the masks of the pixels those rules
decide). The truths themselves come from PyTorch's kernels in the checks.

Reached through `ref` (`ref.conv2d_dx_scatter(dout, x, w, 2, 1, add=False)`), so it runs in
the grader process and a student release ships only its recorded outputs, never this
code. Arguments and results are wire data: tensors, numbers, strings, dicts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# --- im2col ----------------------------------------------------------------------------------


def im2col_mistake_outputs(x, kh: int, kw: int, stride: int, padding: int) -> dict:
    """Outputs of the usual im2col mistakes: rows in (i, j, c) order, and patches listed
    column by column."""
    n, c = x.shape[:2]
    xp = F.pad(x, (padding,) * 4)
    patches = xp.unfold(2, kh, stride).unfold(3, kw, stride)  # (N, C, Ho, Wo, kh, kw)
    ho, wo = patches.shape[2:4]
    return {
        "mistake.ch5.im2col.layout": patches.permute(0, 4, 5, 1, 2, 3).reshape(n, c * kh * kw, ho * wo),
        "mistake.ch5.im2col.patch_order": patches.permute(0, 1, 4, 5, 3, 2).reshape(n, c * kh * kw, ho * wo),
    }


# --- conv2d backward -------------------------------------------------------------------------


def conv2d_dx_scatter(dout, x, w, stride: int, padding: int, stride_in_scatter: bool = True, add: bool = True, crop: str = "centre"):
    """dx as a student computes it: scatter each kernel offset's patch gradient back onto
    the padded image, then crop. The switches reproduce the usual mistakes: the stride
    left out of the scatter, "=" instead of "+=", the crop taken from the corner."""
    s, p = stride, padding
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2:]
    dcols = torch.einsum("fcij,nfhw->ncijhw", w, dout)
    dxp = x.new_zeros((n, c, h + 2 * p + kh * s, wd + 2 * p + kw * s))  # room for a wrong stride
    step = s if stride_in_scatter else 1
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + step * ho, step), slice(j, j + step * wo, step)
            if add:
                dxp[:, :, rows, cols] += dcols[:, :, i, j]
            else:
                dxp[:, :, rows, cols] = dcols[:, :, i, j]
    top = {"centre": p, "corner": 0}[crop]
    return dxp[:, :, top : top + h, top : top + wd]


# --- max pooling backward --------------------------------------------------------------------


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


def maxpool2d_backward_mistake_outputs(dout, x, k: int, s: int) -> dict:
    """dx of the usual tie and overlap mistakes, in the inputs' dtype."""
    win = _windows(x, k, s)
    is_max = win == win.amax(dim=-1, keepdim=True)  # every maximum of each window
    last = F.one_hot(k * k - 1 - win.flip(-1).argmax(dim=-1), k * k).bool()
    g = dout.unsqueeze(-1)
    # the chosen pixel of each window written with "=", windows in row-major order
    overwritten = torch.zeros_like(x)
    ho, wo = win.shape[2:4]
    arg = win.argmax(dim=-1)
    for r in range(ho):
        for q in range(wo):
            i, j = arg[:, :, r, q] // k + r * s, arg[:, :, r, q] % k + q * s
            flat = overwritten.view(x.shape[0], x.shape[1], -1)
            flat.scatter_(2, (i * x.shape[3] + j).unsqueeze(-1), dout[:, :, r, q].unsqueeze(-1))
    return {
        "mistake.ch5.maxpool2d_backward.ties": _route(x, k, s, is_max * g),
        "mistake.ch5.maxpool2d_backward.split_ties": _route(x, k, s, is_max * g / is_max.sum(-1, keepdim=True)),
        "mistake.ch5.maxpool2d_backward.last_max": _route(x, k, s, last * g),
        "mistake.ch5.maxpool2d_backward.overlap": overwritten,
    }


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
