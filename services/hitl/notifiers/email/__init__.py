"""The pieces of the email channel (``hitl.notifiers.channels.email``): the bodies per kind
(``render``), the messages and their headers (``messages``), the answer links (``links``) and
the SMTP exchange with what its failures mean (``smtp``)."""
