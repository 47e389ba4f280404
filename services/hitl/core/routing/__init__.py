"""Routing: which receivers a request reaches, decided from a tree of routes (Alertmanager's
model: matchers, ``continue``, inherited settings), time windows and route tests. Pure: the
config is data, evaluation reads only the request's fields and the time given."""
