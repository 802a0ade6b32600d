"""Chapter 11: multi-modal models (CLIP loss, zero-shot classification, retrieval)."""

from grader.curriculum.model import Chapter, Exercise

CHAPTER = Chapter(
    id="ch11",
    modules=("ch11_clip",),
    exercises=(
        Exercise("clip_loss", points=5),
        Exercise("zero_shot_classify", points=3),
        Exercise("retrieval_recall_at_k", points=5),
    ),
)
