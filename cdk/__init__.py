"""The AWS side of restaurant-pipeline: one CDK stack built from the same topology as the local stack.

`python -m cdk.app` synthesizes the template into cdk.out/; `python -m restaurant_pipeline.artifacts` builds the Lambda
artifacts into build/lambda/. This package consumes the platform (restaurant_pipeline, services, contracts); nothing
there imports it. jsii needs node on PATH before aws_cdk loads: cdk.app's main() puts it there
(restaurant_pipeline.node.ensure_node), and so do the tests that synthesize.
"""
