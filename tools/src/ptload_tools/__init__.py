"""ptload's developer tools: the fixture generators (``ptload_tools.fixtures``), the benchmarks
(``ptload_tools.bench``) and ``ptload_tools.compare_cli``, with the helpers they share in
``ptload_tools.common``. Not shipped to users: the exporter they install is ``ptload-golden``
(python/). Every tool runs as ``python -m ptload_tools.<package>.<tool>`` from the repository root,
in the venv ``make venv`` creates."""
