"""The published contract under ``schemas/``: a JSON Schema file per message
(``hitl_contract.export``) and the AsyncAPI document (``hitl_contract.asyncapi``).

Pure: ``render_files`` returns text; ``hitl schemas export`` writes it, and
``tests/docs/test_contract_export.py`` fails when the committed files drift.
"""

from hitl_contract.asyncapi import asyncapi_document, dump_yaml
from hitl_contract.export import dumps_json, json_schemas
from hitl_contract.wire import DEFAULT_NAMESPACE

ASYNCAPI_FILE = "asyncapi.yaml"
JSON_DIR = "json"


def render_files(namespace: str = DEFAULT_NAMESPACE) -> dict[str, str]:
    """Path relative to the schemas directory -> file text, for every published file."""
    files = {f"{JSON_DIR}/{name}": dumps_json(schema) for name, schema in json_schemas().items()}
    files[ASYNCAPI_FILE] = dump_yaml(asyncapi_document(namespace))
    return files
