"""Names the worker's guard treats as autograd, importable without torch."""

AUTOGRAD = (
    "torch.Tensor.backward",
    "torch.autograd.grad",
    "torch.autograd.backward",
    "torch.Tensor.requires_grad_",
)
