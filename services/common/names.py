"""Names that several artifacts and the infrastructure share, declared once (every Lambda artifact ships this).

The CDK stack, the local stack, the artifact builder and the services import them; none retypes them.
"""

from __future__ import annotations

PROJECT = "restaurant-pipeline"

# The Glue database dbt-athena builds in, and the Athena work group its queries run in (a deployment's names).
GLUE_DATABASE = "restaurant_pipeline"
ATHENA_WORKGROUP = PROJECT
