"""Student stubs: one module per chapter. Fill in the functions, then run `dlcourse check chN`."""
