"""Fleets: one request, one approval, many databases, run in waves.

A fleet's member set, below the pipeline that runs it: ``set_plan`` (the set's
fingerprint, groups) and ``waves`` are pure; ``survey`` checks every member,
``planning`` plans an ask over them (with ``set_checks`` and ``set_sized``), and
``status`` reads where they stand. The run itself is the pipeline's
(``commands.pipeline.run``): each member goes through the same steps as a single
target, recorded as its turn in the fleet's request.
"""
