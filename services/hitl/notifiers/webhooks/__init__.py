"""What the webhook channel (``channels/webhook.py``) is made of, and what the gateway's signed
answer endpoint needs from the same spec:

- ``payloads``: the JSON bodies receivers get (``interaction.requested``, ``interaction.settled``);
- ``signing``: Standard Webhooks signatures on what hitl sends;
- ``verification``: checking signed requests coming in (headers, timestamp, signature, replay);
- ``destinations``: where a webhook may go (the SSRF guard, checked on the resolved address);
- ``replies``: what a receiver's HTTP answer means (success, retry and when, or give up);
- ``clients``: the HTTP clients, one keep-alive pool per host name.
"""
