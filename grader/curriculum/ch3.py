"""Chapter 3: classical machine learning with support vector machines."""

from grader.curriculum.model import Chapter, Exercise

CHAPTER = Chapter(
    id="ch3",
    modules=("ch3_svm",),
    exercises=(
        Exercise("hinge_loss_grad", points=4),
        Exercise("multiclass_svm_loss", points=5),
        Exercise("linear_kernel", points=2),
        Exercise("polynomial_kernel", points=3),
        Exercise("rbf_kernel", points=4, banned=("torch.cdist",)),
        Exercise("svm_decision_function", points=5),
        Exercise("train_linear_svm", points=8, autograd=True, timeout=60.0),
    ),
)
