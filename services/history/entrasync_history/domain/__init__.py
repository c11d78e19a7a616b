"""History's rules: the inventory model, pure plans, events, ports and use cases."""
