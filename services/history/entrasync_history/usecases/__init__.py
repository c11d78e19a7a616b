"""History's use cases: async orchestration over the ports (the pipeline, deletions, the outbox)."""
