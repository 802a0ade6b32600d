"""Chapter 5: convolutional networks."""

from grader.curriculum.model import Chapter, Exercise

# The routines these exercises rebuild. docs/curriculum.md lists F.conv2d, torch.conv2d,
# F.unfold, F.fold and nn.Conv2d; the module forms (nn.Unfold, nn.Fold) and the other
# entry points to the same kernels (torch.convolution, the transposed convolution and
# torch.nn.grad, which compute the backward pass) are banned with them.
_CONV = (
    "torch.nn.functional.conv2d",
    "torch.conv2d",
    "torch.nn.functional.unfold",
    "torch.nn.functional.fold",
    "torch.nn.Conv2d",
    "torch.nn.Unfold",
    "torch.nn.Fold",
    "torch.convolution",
)
_CONV_BACKWARD = (
    "torch.nn.functional.conv_transpose2d",
    "torch.conv_transpose2d",
    "torch.nn.grad.conv2d_input",
    "torch.nn.grad.conv2d_weight",
)
_MAXPOOL = (
    "torch.nn.functional.max_pool2d",
    "torch.max_pool2d",
    "torch.nn.MaxPool2d",
    "torch.nn.functional.max_pool2d_with_indices",
)

CHAPTER = Chapter(
    id="ch5",
    modules=("ch5_cnn",),
    exercises=(
        Exercise("conv2d_forward", points=5, banned=_CONV),
        Exercise("conv2d_backward", points=6, banned=_CONV + _CONV_BACKWARD),
        Exercise(
            "im2col",
            points=4,
            banned=("torch.nn.functional.unfold", "torch.nn.Unfold"),
        ),
        Exercise("maxpool2d_forward", points=3, banned=_MAXPOOL),
        Exercise(
            "maxpool2d_backward",
            points=5,
            banned=_MAXPOOL + ("torch.nn.functional.max_unpool2d",),
        ),
        Exercise("digits_train_predict", points=10, autograd=True, timeout=60.0),
    ),
)
