"""The interpreters of the IR: the vector engine (the definition), the compiled CPU engine, and the numba.cuda lowering with the code that runs it."""
