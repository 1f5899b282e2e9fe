"""Reliability suite: crashes at every step, faults, hostile input, secrets and load.

Each test records what it tried with the ``reliability`` fixture; the table in
docs/reliability.md is generated from those records (``tests/reliability/report.py``).
"""
