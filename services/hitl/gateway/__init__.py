"""``hitl gateway``: the HTTP side of hitl (REST API, API keys, server-sent events, analytics).

It never writes interaction state: answers and cancels go to the broker as response messages
and the gateway waits, bounded, for the broker's receipt; reads come from Redis through the
store's read port (``hitl.ports.InteractionReads``).
"""
