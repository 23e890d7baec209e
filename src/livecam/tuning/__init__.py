"""What measures to decide, above the engine and below the loops: the
governor's costs and levels (``governor``), the fidelity gate's verdicts on
faster precisions (``fidelity``) and ``--runtime auto``'s choice
(``runtime_choice``). Its caches live in :mod:`livecam.cache`."""
