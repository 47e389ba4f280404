"""The pieces of the Slack channel (``hitl.notifiers.channels.slack``) and of the gateway's
Slack interactivity endpoint: the Web API calls and what their failures mean (``api``), the
Block Kit messages and modals per kind (``blocks``), and what a button or a modal carries
back (``values``)."""
