"""Chapter 9: large language models (BPE, sampling, perplexity, KV cache, RoPE, LoRA)."""

from grader.curriculum.model import Chapter, Exercise

CHAPTER = Chapter(
    id="ch9",
    modules=("ch9_llm",),
    exercises=(
        # Pure-Python loops over the bytes of the text: give slow loops some room.
        Exercise("bpe_train", points=6, timeout=30.0),
        Exercise("bpe_encode", points=4, timeout=30.0),
        Exercise("bpe_decode", points=3),
        Exercise("top_k_filter", points=3),
        Exercise("top_p_filter", points=5),
        Exercise("sample_token", points=4),
        Exercise("perplexity", points=4),
        Exercise("kv_cache_attend", points=4),
        Exercise("rope", points=4),
        Exercise("lora_forward", points=3),
    ),
)
