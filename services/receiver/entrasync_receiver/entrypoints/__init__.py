"""The receiver's entry points: the HTTP routes Graph posts to (`http`) and its NATS API
(`api`: health)."""
