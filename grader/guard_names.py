"""Names the worker's guard treats specially, importable without torch."""

AUTOGRAD = (
    "torch.Tensor.backward",
    "torch.autograd.grad",
    "torch.autograd.backward",
    "torch.Tensor.requires_grad_",
)
"""Autograd's entry points: banned by name, unless an exercise allows autograd (the guard
also judges by tensor state, so another way in is caught too)."""

OPTIMISERS = "torch.optim"
"""In a `banned` list: the whole optimiser package, its functional update routines and
the multi-tensor (`torch._foreach_*`) and fused (`aten._fused_adam_`, ...) kernels."""
