"""dlcourse as deployed: the wheel and the student release, installed (not editable) in a
fresh virtual environment and run from outside the checkout."""
