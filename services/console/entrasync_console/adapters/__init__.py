"""The console's adapters: the other services' NATS request-reply APIs."""
