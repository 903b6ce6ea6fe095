"""`python -m restaurant_pipeline.cli`: the same app as the `restaurant-pipeline` console script."""

import sys

from restaurant_pipeline.cli import app

sys.exit(app())
