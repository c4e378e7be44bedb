complete --keep-order --exclusive --command jit --arguments "(JIT_COMPLETE=fish jit -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
