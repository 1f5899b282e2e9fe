"""The run pipeline: an approved request becomes pre-flight → backup → revisions →
verification → outcome, every step recorded and reported as it happens.

``propose`` turns a user's ask into a checked request; ``Pipeline.run`` runs an
approved one, made with a ``RunContext``; ``RunWorker`` runs them in the background for both fronts;
``recover_interrupted`` is what the bot does first after a crash.
"""

from commands.pipeline.context import RunContext
from commands.pipeline.intake import Proposal, propose
from commands.pipeline.progress import RollbackOffer, RunOutcome, RunStep, RunUpdate
from commands.pipeline.recovery import InterruptedRun, recover_interrupted
from commands.pipeline.run import Pipeline
from commands.pipeline.worker import RunWorker

__all__ = [
    "InterruptedRun",
    "Pipeline",
    "Proposal",
    "RollbackOffer",
    "RunContext",
    "RunOutcome",
    "RunStep",
    "RunUpdate",
    "RunWorker",
    "propose",
    "recover_interrupted",
]
