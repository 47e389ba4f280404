"""Which read indexes an interaction belongs to: pure, so every replica (and the in-memory
twin) files it under the same terms.

Every interaction is listed under its status, and under (status, dimension, value) for each
term below; a pending one also under each person or group allowed to answer it (``*`` when
anyone may), so "waiting for me" is an index read too. Scores are the request time, so every
index pages in the same order: (requested_at, id), oldest or newest first.
"""

from hitl_contract import InteractionRequest

KIND = "kind"
THREAD = "thread"
REQUESTER = "requester"
NODE = "node"
RESPONDER = "responder"  # pending only
ANYONE = "*"
DIMENSIONS = (KIND, THREAD, REQUESTER, NODE)


def terms(request: InteractionRequest) -> list[tuple[str, str]]:
    """(dimension, value) pairs the interaction is filed under, in every status."""
    out = [(KIND, request.kind), (THREAD, request.thread_id), (REQUESTER, request.requester.id)]
    if request.node_name:
        out.append((NODE, request.node_name))
    return out


def waiting_for(request: InteractionRequest) -> list[str]:
    """Who may answer: the request's responders (ids and ``group:`` names), or ``*``."""
    return list(dict.fromkeys(request.responders)) if request.responders else [ANYONE]
