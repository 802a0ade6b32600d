"""Chapter 1: machine learning overview (probability and unsupervised basics)."""

from grader.curriculum.model import Chapter, Exercise

CHAPTER = Chapter(
    id="ch1",
    modules=("ch1_ml_basics",),
    exercises=(
        Exercise(
            "softmax",
            points=3,
            banned=(
                "torch.softmax",
                "torch.nn.functional.softmax",
                "torch.Tensor.softmax",
                "torch.special.softmax",
                "torch.nn.Softmax",
            ),
        ),
        Exercise(
            "log_softmax",
            points=4,
            banned=(
                "torch.nn.functional.log_softmax",
                "torch.log_softmax",
                "torch.logsumexp",
                "torch.Tensor.log_softmax",
                "torch.Tensor.logsumexp",
                "torch.special.log_softmax",
                "torch.special.logsumexp",
                "torch.nn.LogSoftmax",
            ),
        ),
        Exercise("conditional_from_joint", points=3),
        Exercise("boltzmann", points=3),
        Exercise("kmeans", points=6),
        Exercise("pca", points=5),
    ),
)
