"""Fault injection for tests/e2e/test_final_failures.py, loaded by every Python process that has this folder on its
PYTHONPATH (the local stack passes PYTHONPATH on to its workers). It acts only in the transformer's worker
(POWERTOOLS_SERVICE_NAME=transformer): S3 GetObject of a key containing DENIED_MARKER fails as AWS fails it when
the role may not read the object, a botocore ClientError with code AccessDenied (HTTP 403). Every other call goes to
the stack as usual. Nothing imports it outside that test's stack.
"""

from __future__ import annotations

import os

DENIED_MARKER = "/denied-"

if os.environ.get("POWERTOOLS_SERVICE_NAME") == "transformer":
    from typing import Any

    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    _make_api_call = BaseClient._make_api_call

    def _denying(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == "GetObject" and DENIED_MARKER in str(api_params.get("Key", "")):
            raise ClientError(
                {
                    "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                    "ResponseMetadata": {"HTTPStatusCode": 403},
                },
                operation_name,
            )
        return _make_api_call(self, operation_name, api_params)

    BaseClient._make_api_call = _denying  # type: ignore[method-assign]
