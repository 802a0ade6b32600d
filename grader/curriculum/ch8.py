"""Chapter 8: NLP basics, Transformers and self-supervised learning."""

from grader.curriculum.model import Chapter, Exercise

_ATTENTION_BANNED = (
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.functional.multi_head_attention_forward",
)

CHAPTER = Chapter(
    id="ch8",
    modules=("ch8_transformers",),
    exercises=(
        Exercise("embedding_backward", points=4),
        Exercise("causal_mask", points=2),
        Exercise("scaled_dot_product_attention", points=5, banned=_ATTENTION_BANNED),
        Exercise(
            "multi_head_attention",
            points=6,
            banned=_ATTENTION_BANNED + ("torch.nn.MultiheadAttention",),
        ),
        Exercise("sinusoidal_positional_encoding", points=3),
        Exercise(
            "transformer_encoder_layer",
            points=6,
            banned=(
                "torch.nn.TransformerEncoderLayer",
                "torch.nn.MultiheadAttention",
                "torch.nn.functional.multi_head_attention_forward",
            ),
        ),
        Exercise("info_nce_loss", points=6),
    ),
)
