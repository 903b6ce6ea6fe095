"""restaurant-pipeline: CLI, configuration, topology and the local stack."""
