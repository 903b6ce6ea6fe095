"""The AWS side of restaurant-pipeline: one CDK stack built from the same topology as the local stack.

`python -m cdk.app` synthesizes the template into cdk.out/; `python -m restaurant_pipeline.artifacts` builds the Lambda
artifacts into build/lambda/. Importing this package puts a node binary on PATH for jsii (see cdk.node);
when there is none, importing still works and synthesis reports the missing node (cdk.app checks first).
"""

import contextlib

from cdk.node import NodeMissingError, ensure_node

with contextlib.suppress(NodeMissingError):
    ensure_node()
