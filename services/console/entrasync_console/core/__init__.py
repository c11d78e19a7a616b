"""What the web console, the REST API and the CLI share: who may call (accounts, sessions,
request authentication), HTTP errors, and the read models composed from several services."""
