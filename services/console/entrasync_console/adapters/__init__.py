"""The console's adapters, all NATS: the other services' APIs (`nats`, the `Services` port) and the
login sessions' KV bucket (`kv_sessions`)."""
