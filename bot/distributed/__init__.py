"""A shared deployment's worker process (``worker_process``): the Bolt app that replays
the requests the fronts enqueued, and the jobs it runs. The fronts' side of the hand-off
is ``bot.flows.forwarding``."""
