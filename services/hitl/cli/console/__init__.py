"""``hitl console``: the operator console, the notifier of the routing file's ``terminal``
receivers. ``board`` keeps what is shown (pure), ``screen`` draws it and talks to the operator,
``app`` runs it beside the notifier framework and sends the answers."""
