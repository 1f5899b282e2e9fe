"""Fleets: one request, one approval, many databases, run in waves.

A layer on top of the single-target pipeline: each member goes through the
same ``Pipeline`` (run lock, backup, revisions, verify) with a narrow context
that records its steps as member events of the fleet's request. ``waves`` and
``set_plan`` are pure; ``intake`` proposes a fleet request, ``run`` runs it,
``status`` surveys where the members stand, ``recovery`` explains a fleet run
the bot died in, ``ways_back`` offers the runbook's ways back per member.
"""
