"""The receiver's use cases: accept a notification POST (`receive`)."""
