"""Chapter 6: generalisation and regularisation."""

from grader.curriculum.model import Chapter, Exercise

CHAPTER = Chapter(
    id="ch6",
    modules=("ch6_regularisation",),
    exercises=(
        Exercise(
            "dropout_forward",
            points=4,
            banned=("torch.nn.functional.dropout", "torch.dropout"),
        ),
        Exercise("dropout_backward", points=3),
        Exercise("adamw_step", points=4, banned=("torch.optim",)),  # see grader.guard_names.OPTIMISERS
        Exercise(
            "label_smoothing_cross_entropy",
            points=5,
            banned=("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss"),
        ),
        Exercise("early_stopping", points=4),
        Exercise("mixup", points=2),
        Exercise("kfold_indices", points=4),
    ),
)
