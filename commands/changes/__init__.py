"""Changes across deploys: the runbook's expand/contract patterns as a named sequence of
phases for one target (``migrate``, ``deploy``, ``backfill``, ``gate``), each audited.

``change_file.py`` reads the reviewed file; a change is a fold over its events
(``model.py``) written by ``ledger.py``; ``gates.py`` gathers a gate's evidence
(the application's use of a column from ``pg_stat_statements``, a backfill's
remaining rows, SQL assertions) and ``quiet.py`` judges the quiet period;
``guard.py`` keeps an ordinary upgrade out of a later phase's revisions;
``service.py`` is what the fronts call.
"""
