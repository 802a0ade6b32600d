"""The dlcourse grading engine.

Student code runs only in a worker process (`grader.worker`); this package's other
modules run in the grader process, draw inputs, call the references and compare.
Importing `grader` itself is cheap: torch is imported only by the modules that need it.
"""
