"""The bundled example Alembic project: the "transcripts" service of the runbooks.

It is the demo target's project, the sandbox's and the tests'. Its revisions walk
through the runbook's patterns, one of them deliberately risky.
"""
