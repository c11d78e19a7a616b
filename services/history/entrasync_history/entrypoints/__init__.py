"""History's entry points: the pipeline and tenant-deleted consumers, the API, background loops."""
