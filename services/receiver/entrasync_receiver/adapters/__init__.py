"""The receiver's adapters: the subscriptions KV, the replay KV, JetStream, metrics."""
