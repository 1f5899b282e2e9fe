"""Backfills: one ``UPDATE`` walked over a key in short batches, throttled by the
replica's replay lag, by the sessions waiting on its rows and by a rate cap,
checkpointed in the audit log, paused, resumed and stopped by people.

A run (``B-12``) is a fold over its events like a request (``model.py``);
``ledger.py`` writes them, each a conditional write; ``engine.py`` runs the
batches; ``preflight.py`` counts and times before anyone approves.
"""
