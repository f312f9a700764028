"""A deterministic mutation fuzzer for aigclabel's entry points (issue 12, item 3).

The pieces, in the order data flows through them::

    seeds.py     labelled seed files of every format aigclabel reads, made at start-up by aigclabel.mark()
    mutate.py    the seeded mutator: bit flips, byte sets, truncation, length fields, chunk splices, inserts
    worker.py    what runs in a worker process: one entry point on one input, typed vs untyped outcome
    pool.py      persistent worker processes under a memory cap and a wall-time limit (kill + restart)
    campaign.py  the run: budget per format, signatures, minimised reproducers, the results table
    coverage.py  an optional coverage-guided mode of the pure parsers with atheris (if installed)

``scripts/fuzz.py`` is the command line; ``tests/test_fuzz.py`` runs a small fixed budget in CI.
Nothing here needs a library beyond what aigclabel's test extras install.
"""
