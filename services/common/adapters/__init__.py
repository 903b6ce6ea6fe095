"""Adapters every service uses: the bus (EventBridge) and the run ledger (DynamoDB)."""
