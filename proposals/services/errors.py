"""The refusals of proposals' services, each with the code the API reports."""


class ProposalError(Exception):
    """A refused operation; ``message`` is written for the person who tried it."""

    code = "proposal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransitionError(ProposalError):
    code = "invalid_transition"


class ProposalLocked(ProposalError):
    code = "proposal_locked"


class PlanLimitReached(ProposalError):
    code = "plan_limit_reached"


class ConcurrentEditError(ProposalError):
    code = "concurrent_edit"


class ClientInUse(ProposalError):
    code = "client_in_use"
