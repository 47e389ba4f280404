"""The AsyncAPI 3.0 document of the wire contract, built from the models (``hitl_contract.export``)
and the wire facts (``hitl_contract.wire``), so it cannot say something the code does not do.

It describes the default namespace ``hitl``: every exchange and queue name starts with the
``HITL_NAMESPACE`` setting, so a deployment with ``HITL_NAMESPACE=acme`` uses ``acme.requests``.
Pure: it returns text and plain data; ``hitl_contract.files.render_files`` puts it with the JSON
Schema files.
"""

from hitl_contract.asyncapi.document import asyncapi_document, dump_yaml, kind_actions

__all__ = ["asyncapi_document", "dump_yaml", "kind_actions"]
