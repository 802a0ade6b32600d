"""Mutants and variants of chapter 5 (convolutional networks).

The known mistakes that show in the values are registered in `solutions/mistakes/ch5_cnn.py`
and graded as mutants from there (`tests.mutants.mistake_cases`); this module keeps the
variants and the mutants the grader names otherwise (from a wrong shape, or from the
pixels a tie rule decides).

Each function is graded as if it were the student's, appended to `solutions/ch5_cnn.py`
under the exercise's name: it may use torch, `F` (torch.nn.functional), `nn` and the
module's other functions, nothing else from this file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.mutants import mutant, variant

# ---------------------------------------------------------------- ch5.im2col


@mutant("ch5.im2col", expect=r"padding")
def im2col__padding_ignored(x, kernel_size, stride=1, padding=0):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    n, c = x.shape[0], x.shape[1]
    patches = x.unfold(2, kh, stride).unfold(3, kw, stride)
    ho, wo = patches.shape[2], patches.shape[3]
    return patches.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


@variant("ch5.im2col")
def im2col__loops(x, kernel_size, stride=1, padding=0):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    n, c, h, w = x.shape
    xp = x.new_zeros((n, c, h + 2 * padding, w + 2 * padding))
    xp[:, :, padding : padding + h, padding : padding + w] = x
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    cols = x.new_zeros((n, c * kh * kw, ho * wo))
    for r in range(ho):
        for q in range(wo):
            patch = xp[:, :, r * stride : r * stride + kh, q * stride : q * stride + kw]
            cols[:, :, r * wo + q] = patch.reshape(n, -1)
    return cols


# ---------------------------------------------------------------- ch5.conv2d_forward


@mutant("ch5.conv2d_forward", expect=r"stride")
def conv2d_forward__stride_after_full(x, w, b, stride=1, padding=0):
    # computes the stride-1 output, then keeps every stride-th row but all columns
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho = h + 2 * padding - kh + 1
    wo = wd + 2 * padding - kw + 1
    cols = im2col(x, (kh, kw), 1, padding)
    out = (w.reshape(f, -1) @ cols + b.reshape(1, f, 1)).reshape(n, f, ho, wo)
    return out[:, :, ::stride, :]


@variant("ch5.conv2d_forward")
def conv2d_forward__loops(x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = F.pad(x, (padding,) * 4)
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    out = x.new_zeros((n, f, ho, wo))
    for r in range(ho):
        for q in range(wo):
            patch = xp[:, :, r * stride : r * stride + kh, q * stride : q * stride + kw]
            out[:, :, r, q] = torch.einsum("ncij,fcij->nf", patch, w) + b
    return out


@variant("ch5.conv2d_forward")
def conv2d_forward__shifted_sums(x, w, b, stride=1, padding=0):
    # sum over kernel offsets of a strided slice times one kernel column
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = F.pad(x, (padding,) * 4)
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    out = b.reshape(1, f, 1, 1).expand(n, f, ho, wo).clone()
    for i in range(kh):
        for j in range(kw):
            sl = xp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]  # (N, C, Ho, Wo)
            out = out + torch.einsum("nchw,fc->nfhw", sl, w[:, :, i, j])
    return out


# ---------------------------------------------------------------- ch5.conv2d_backward


@variant("ch5.conv2d_backward")
def conv2d_backward__transposed_conv(dout, x, w, stride=1, padding=0):
    # dx is the full correlation of the stride-dilated dout with the flipped kernel
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    db = dout.sum(dim=(0, 2, 3))
    xp = F.pad(x, (padding,) * 4)
    dw = x.new_zeros(w.shape)
    for i in range(kh):
        for j in range(kw):
            sl = xp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]  # (N, C, Ho, Wo)
            dw[:, :, i, j] = torch.einsum("nfhw,nchw->fc", dout, sl)
    dil = dout.new_zeros((n, f, (ho - 1) * stride + 1, (wo - 1) * stride + 1))
    dil[:, :, ::stride, ::stride] = dout
    full = F.pad(dil, (kw - 1, kw - 1, kh - 1, kh - 1))
    wt = w.flip(-1, -2).transpose(0, 1)  # (C, F, kh, kw)
    dxp_valid = conv2d_forward(full, wt, w.new_zeros(c), 1, 0)
    dxp = x.new_zeros((n, c, h + 2 * padding, wd + 2 * padding))
    dxp[:, :, : dxp_valid.shape[2], : dxp_valid.shape[3]] = dxp_valid
    return dxp[:, :, padding : padding + h, padding : padding + wd], dw, db


# ---------------------------------------------------------------- ch5.maxpool2d_forward


@mutant("ch5.maxpool2d_forward", expect=r"stride")
def maxpool2d_forward__stride_is_kernel(x, kernel_size, stride):
    k = kernel_size
    return x.unfold(2, k, k).unfold(3, k, k).amax(dim=(-2, -1))


@mutant("ch5.maxpool2d_forward", expect=r"shape|floor|partial")
def maxpool2d_forward__ceil_mode(x, kernel_size, stride):
    # keeps partial windows at the bottom and right border (pads with -inf)
    k = kernel_size
    h, w = x.shape[2], x.shape[3]
    ho = -(-(h - k) // stride) + 1
    wo = -(-(w - k) // stride) + 1
    need_h = (ho - 1) * stride + k - h
    need_w = (wo - 1) * stride + k - w
    xp = F.pad(x, (0, need_w, 0, need_h), value=float("-inf"))
    return xp.unfold(2, k, stride).unfold(3, k, stride).amax(dim=(-2, -1))


@variant("ch5.maxpool2d_forward")
def maxpool2d_forward__strided_slices(x, kernel_size, stride):
    k = kernel_size
    ho = (x.shape[2] - k) // stride + 1
    wo = (x.shape[3] - k) // stride + 1
    out = None
    for i in range(k):
        for j in range(k):
            sl = x[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
            out = sl if out is None else torch.maximum(out, sl)
    return out.clone()


# ---------------------------------------------------------------- ch5.maxpool2d_backward


@variant("ch5.maxpool2d_backward")
def maxpool2d_backward__loops(dout, x, kernel_size, stride):
    n, c, h, wd = x.shape
    k = kernel_size
    ho, wo = dout.shape[2], dout.shape[3]
    dx = x.new_zeros((n, c, h * wd))
    for r in range(ho):
        for q in range(wo):
            win = x[:, :, r * stride : r * stride + k, q * stride : q * stride + k].reshape(n, c, k * k)
            best = win.max(dim=-1, keepdim=True).values
            # first position equal to the maximum: cumulative count of hits equals 1
            hit = win == best
            first = hit & (hit.cumsum(dim=-1) == 1)
            pos = first.to(torch.int64).argmax(dim=-1)  # (N, C)
            flat = (r * stride + pos // k) * wd + (q * stride + pos % k)
            dx.scatter_add_(2, flat.unsqueeze(-1), dout[:, :, r, q].unsqueeze(-1))
    return dx.reshape(n, c, h, wd)


# ---------------------------------------------------------------- ch5.digits_train_predict


@mutant("ch5.digits_train_predict", expect=r"accura")
def digits_train_predict__untrained(X_train, y_train, X_test, seed):
    # builds the model but forgets the training loop
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(64, 10, generator=g).to(X_test.device)
    return (X_test.reshape(X_test.shape[0], 64).float() @ W).argmax(dim=1)


@mutant("ch5.digits_train_predict", expect=r"accura")
def digits_train_predict__labels_off_by_one(X_train, y_train, X_test, seed):
    # trains a nearest-class-mean classifier but returns the index shifted by one
    xs = X_train.reshape(X_train.shape[0], -1).float()
    means = torch.stack([xs[y_train == k].mean(dim=0) for k in range(10)])
    xt = X_test.reshape(X_test.shape[0], -1).float()
    d = (xt[:, None, :] - means[None]).pow(2).sum(-1)
    return (d.argmin(dim=1) + 1) % 10


@mutant("ch5.digits_train_predict", expect=r"int64|dtype")
def digits_train_predict__float_labels(X_train, y_train, X_test, seed):
    # a correct nearest-class-mean classifier whose labels come back as floats
    xs = X_train.reshape(X_train.shape[0], -1).float()
    means = torch.stack([xs[y_train == k].mean(dim=0) for k in range(10)])
    xt = X_test.reshape(X_test.shape[0], -1).float()
    d = (xt[:, None, :] - means[None]).pow(2).sum(-1)
    return d.argmin(dim=1).to(X_test.dtype)


@mutant("ch5.digits_train_predict", expect=r"accura", at_most=0.2)
def digits_train_predict__looks_up_public_digits(X_train, y_train, X_test, seed):
    # a cheat: the label of the nearest image in scikit-learn's public digits
    from sklearn.datasets import load_digits

    data = load_digits()
    public = torch.tensor(data.images / 16.0, dtype=torch.float64).reshape(len(data.images), 64)
    d = torch.cdist(X_test.reshape(X_test.shape[0], 64).double().cpu(), public)
    return torch.tensor(data.target, dtype=torch.int64)[d.argmin(dim=1)].to(X_test.device)


@variant("ch5.digits_train_predict")
def digits_train_predict__mlp(X_train, y_train, X_test, seed):
    # a two-layer MLP on the flattened pixels, full-batch Adam, own generator
    g = torch.Generator().manual_seed(seed)
    device = X_train.device
    xs = X_train.reshape(X_train.shape[0], -1).float()
    ys = y_train.to(device)
    W1 = (torch.randn(64, 128, generator=g) * 0.125).to(device).requires_grad_()
    b1 = torch.zeros(128, device=device, requires_grad=True)
    W2 = (torch.randn(128, 10, generator=g) * 0.09).to(device).requires_grad_()
    b2 = torch.zeros(10, device=device, requires_grad=True)
    params = [W1, b1, W2, b2]
    opt = torch.optim.Adam(params, lr=1e-2)
    for _ in range(300):
        loss = F.cross_entropy(torch.relu(xs @ W1 + b1) @ W2 + b2, ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        xt = X_test.reshape(X_test.shape[0], -1).float().to(device)
        pred = (torch.relu(xt @ W1 + b1) @ W2 + b2).argmax(dim=1)
    return pred.to(X_test.device)


# ---------------------------------------------------------------- more mistakes and variants


@mutant("ch5.im2col", expect=r"padding")
def im2col__padding_bottom_right_only(x, kernel_size, stride=1, padding=0):
    # F.pad(x, (0, p, 0, p)): zeros on the right and at the bottom only
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    n, c = x.shape[0], x.shape[1]
    xp = F.pad(x, (0, padding, 0, padding))
    patches = xp.unfold(2, kh, stride).unfold(3, kw, stride)
    ho, wo = patches.shape[2], patches.shape[3]
    return patches.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


@mutant("ch5.conv2d_forward", expect=r"padding")
def conv2d_forward__pads_width_only(x, w, b, stride=1, padding=0):
    # F.pad with a 2-tuple pads only the last dimension (the width)
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = F.pad(x, (padding, padding))
    patches = xp.unfold(2, kh, stride).unfold(3, kw, stride)  # (N, C, Ho, Wo, kh, kw)
    return torch.einsum("nchwij,fcij->nfhw", patches, w) + b.reshape(1, f, 1, 1)


@variant("ch5.conv2d_forward")
def conv2d_forward__six_nested_loops(x, w, b, stride=1, padding=0):
    # the naive definition, one scalar product at a time: slow but correct
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    out = x.new_zeros((n, f, ho, wo))
    for a in range(n):
        for o in range(f):
            for r in range(ho):
                for q in range(wo):
                    total = b[o]
                    for ch in range(c):
                        for i in range(kh):
                            for j in range(kw):
                                rr, cc = r * stride + i - padding, q * stride + j - padding
                                if 0 <= rr < h and 0 <= cc < wd:
                                    total = total + x[a, ch, rr, cc] * w[o, ch, i, j]
                    out[a, o, r, q] = total
    return out


@variant("ch5.conv2d_backward")
def conv2d_backward__naive_loops(dout, x, w, stride=1, padding=0):
    # every (image, filter, window, channel, offset) term by hand
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    dx, dw = torch.zeros_like(x), torch.zeros_like(w)
    for a in range(n):
        for o in range(f):
            for r in range(ho):
                for q in range(wo):
                    g = dout[a, o, r, q]
                    for i in range(kh):
                        for j in range(kw):
                            rr, cc = r * stride + i - padding, q * stride + j - padding
                            if 0 <= rr < h and 0 <= cc < wd:
                                dx[a, :, rr, cc] += g * w[o, :, i, j]
                                dw[o, :, i, j] += g * x[a, :, rr, cc]
    return dx, dw, dout.sum(dim=(0, 2, 3))


@mutant("ch5.maxpool2d_backward", expect=r"first|tie")
def maxpool2d_backward__column_major_window(dout, x, kernel_size, stride):
    # flattens each window column by column, so ties go to the first maximum in column-major order
    n, c, h, wd = x.shape
    k = kernel_size
    windows = x.unfold(2, k, stride).unfold(3, k, stride)
    ho, wo = windows.shape[2], windows.shape[3]
    arg = windows.transpose(-1, -2).reshape(n, c, ho, wo, k * k).argmax(dim=-1)
    rows = torch.arange(ho).reshape(ho, 1) * stride + arg % k
    cols = torch.arange(wo).reshape(1, wo) * stride + arg // k
    dx = x.new_zeros((n, c, h * wd))
    dx.scatter_add_(2, (rows * wd + cols).reshape(n, c, ho * wo), dout.reshape(n, c, ho * wo))
    return dx.reshape(n, c, h, wd)


# --- promises of the docstrings: leftover pixels, the dtype, a tuple of three -----------------


@mutant("ch5.conv2d_backward", expect=r"no window reaches")
def conv2d_backward__dx_sized_by_the_windows(dout, x, w, stride=1, padding=0):
    # dx_padded spans only what the windows cover, (Ho - 1) s + kh rows: right when the
    # stride divides evenly, a row or column short when it does not
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    xp = F.pad(x, (padding,) * 4)
    dxp = x.new_zeros((n, c, (ho - 1) * stride + kh, (wo - 1) * stride + kw))
    dw = torch.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + stride * ho, stride), slice(j, j + stride * wo, stride)
            dw[:, :, i, j] = torch.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += torch.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    return dxp[:, :, padding : padding + h, padding : padding + wd], dw, dout.sum(dim=(0, 2, 3))


@mutant("ch5.conv2d_backward", expect=r"dtype float32, expected float64")
def conv2d_backward__zeros_in_default_dtype(dout, x, w, stride=1, padding=0):
    # torch.zeros(shape) is float32 whatever the inputs are: float64 inputs get a float32 dx
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    xp = F.pad(x, (padding,) * 4)
    dxp = torch.zeros((n, c, h + 2 * padding, wd + 2 * padding))
    dw = torch.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + stride * ho, stride), slice(j, j + stride * wo, stride)
            dw[:, :, i, j] = torch.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += torch.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    return dxp[:, :, padding : padding + h, padding : padding + wd], dw, dout.sum(dim=(0, 2, 3))


@variant("ch5.conv2d_backward")
def conv2d_backward__namedtuple_of_shifted_sums(dout, x, w, stride=1, padding=0):
    # a namedtuple is a tuple: (dx, dw, db) by field
    from collections import namedtuple

    Grads = namedtuple("Grads", "dx dw db")
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    xp = F.pad(x, (padding,) * 4)
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + stride * ho, stride), slice(j, j + stride * wo, stride)
            dw[:, :, i, j] = torch.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += torch.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    return Grads(dxp[:, :, padding : padding + h, padding : padding + wd], dw, dout.sum(dim=(0, 2, 3)))
