"""The sub-commands of the ``docstore`` command line; :mod:`docstore.cli` wires them to argparse.

One module per family: :mod:`~docstore.commands.demo` (and the worker loop in
:mod:`~docstore.commands.workers`), :mod:`~docstore.commands.inspect` (experiments, trials,
show), :mod:`~docstore.commands.transfer` (dump, load, copy), :mod:`~docstore.commands.check`
(check, compact) and :mod:`~docstore.commands.plot`. Each command is a function taking the
parsed arguments and returning the process exit code.
"""
