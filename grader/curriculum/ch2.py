"""Chapter 2: linear regression and classification."""

from grader.curriculum.model import Chapter, Exercise

CHAPTER = Chapter(
    id="ch2",
    modules=("ch2_linear_models",),
    exercises=(
        Exercise("linear_regression_fit", points=5),
        Exercise("mse_loss", points=2),
        Exercise("linear_regression_gd", points=4),
        Exercise(
            "sigmoid",
            points=3,
            banned=(
                "torch.sigmoid",
                "torch.nn.functional.sigmoid",
                "torch.Tensor.sigmoid",
                "torch.special.expit",
                "torch.nn.Sigmoid",
            ),
        ),
        Exercise(
            "bce_with_logits",
            points=4,
            banned=(
                "torch.nn.functional.binary_cross_entropy_with_logits",
                "torch.nn.functional.binary_cross_entropy",
                "torch.binary_cross_entropy_with_logits",
                "torch.nn.BCEWithLogitsLoss",
                "torch.nn.BCELoss",
            ),
        ),
        Exercise("logistic_regression_grad", points=5),
        Exercise("softmax_regression_grad", points=6),
    ),
)
