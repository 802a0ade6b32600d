"""Reference implementations, with the same module names and signatures as `exercises/`.

Never shipped in the student release; the grader imports them only in its own process.
"""
