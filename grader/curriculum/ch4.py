"""Chapter 4: backpropagation, optimisation and normalisation."""

from grader.curriculum.model import Chapter, Exercise
from grader.guard_names import OPTIMISERS

# the optimiser exercises write the update rule: torch.optim (its classes, its functional
# update routines and its multi-tensor and fused kernels) is banned there

CHAPTER = Chapter(
    id="ch4",
    modules=("ch4_backprop",),
    exercises=(
        Exercise("linear_forward", points=3),
        Exercise("linear_backward", points=5),
        Exercise("relu_backward", points=3),
        Exercise("sigmoid_backward", points=3),
        Exercise("tanh_backward", points=3),
        Exercise("softmax_cross_entropy", points=5),
        Exercise("mlp_loss_and_grads", points=6),
        Exercise("numerical_gradient", points=4),
        Exercise("sgd_step", points=2),
        Exercise("sgd_momentum_step", points=4, banned=(OPTIMISERS,)),
        Exercise("rmsprop_step", points=4, banned=(OPTIMISERS,)),
        Exercise("adam_step", points=5, banned=(OPTIMISERS,)),
        Exercise(
            "batchnorm_forward",
            points=5,
            banned=("torch.nn.functional.batch_norm", "torch.batch_norm"),
        ),
        Exercise("batchnorm_backward", points=5),
        Exercise(
            "layernorm_forward",
            points=5,
            banned=("torch.nn.functional.layer_norm", "torch.layer_norm"),
        ),
        Exercise("layernorm_backward", points=6),
    ),
)
