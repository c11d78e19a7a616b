"""Config's entrypoints, declared at module level and bound at start by `main.build_app`:
the request-reply API (`api.api`) and the `sync.recorded` consumer
(`sync_recorded.sync_recorded`)."""
