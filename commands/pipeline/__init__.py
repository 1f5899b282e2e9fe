"""The run pipeline: an approved request becomes pre-flight → backup → revisions →
verification → outcome on each of its databases, every step recorded and reported as
it happens.

``propose`` turns a user's ask into a checked request; ``run_request`` runs an
approved one in a ``RunContext``; ``RunThreads`` runs them in the background for both
fronts; ``recover_interrupted`` is what the bot does first after a crash.
"""

from commands.pipeline.context import RunContext
from commands.pipeline.intake import Proposal, propose
from commands.pipeline.progress import RollbackOffer, RunOutcome, RunStep, RunUpdate
from commands.pipeline.recovery import InterruptedRun, recover_interrupted
from commands.pipeline.run import RunWrappers, run_request
from commands.pipeline.run_threads import RunThreads

__all__ = [
    "InterruptedRun",
    "Proposal",
    "RollbackOffer",
    "RunContext",
    "RunOutcome",
    "RunStep",
    "RunThreads",
    "RunUpdate",
    "RunWrappers",
    "propose",
    "recover_interrupted",
    "run_request",
]
