"""The declarative model of a deployment: the config (pipeline.toml), the topology derived from it and the service
specs, the alarms, the schedule and the stack's names. Plain data and pure functions: the CDK app, the local stack and
the operator's CLI read it; it imports none of them."""
