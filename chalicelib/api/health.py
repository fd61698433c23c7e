"""``GET /health``: liveness, no token, no I/O."""

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.models.views import Health

bp = Blueprint(__name__)


@operation(bp, "GET", "/health", tag="meta", auth="none", answers=[Answer(200, Health)])
def health() -> Reply:
    """Liveness.

    Answers without a token and without touching AWS.
    """
    return Reply(Health())
