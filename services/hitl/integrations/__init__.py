"""Adapters that let agent frameworks and chat apps ask people through hitl, each behind its own
optional extra (``pip install hitl[<name>]``); importing ``hitl`` never imports them."""
