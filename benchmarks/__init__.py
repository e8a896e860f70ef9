"""Reproducible measurements of what clinvoker costs over calling the CLIs by hand.

Run with ``nox -s bench`` (or ``python -m benchmarks`` in a synced environment). Every figure
is measured against its baseline in the same run; the table of ratios goes to stdout and to
``benchmarks/RESULTS.md``. Not part of the pass/fail test run.
"""
