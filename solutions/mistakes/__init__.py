"""The reference side of known mistakes and of the truths checks compute with switches.

One module per chapter module (`solutions/mistakes/ch9_llm.py` beside
`solutions/ch9_llm.py`): realistic student code for each named mistake, and the variants
of a reference a check compares against. Checks reach them through `ref` exactly like the
references (`ref.bpe_train_merging_most_frequent_first(...)`), so they run in the grader
process and a student release ships only their recorded outputs, never this code.
"""
