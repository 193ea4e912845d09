"""Meta-facing code: webhook signatures, the subscription handshake, payload parsing, Graph API actions."""

from webhooks.events import CommentEvent, Platform, Verb
from webhooks.graph import ActionResult, GraphClient, Outcome, appsecret_proof
from webhooks.parse import ParseResult, parse_payload
from webhooks.signature import verify_signature
from webhooks.subscription import verify_subscription

__all__ = [
    "ActionResult",
    "CommentEvent",
    "GraphClient",
    "Outcome",
    "ParseResult",
    "Platform",
    "Verb",
    "appsecret_proof",
    "parse_payload",
    "verify_signature",
    "verify_subscription",
]
