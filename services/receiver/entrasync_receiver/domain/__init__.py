"""The receiver's pure decisions (no I/O, no awaits): what a notification POST is and whether
it is accepted (`notifications`), the per-tenant rate limit (`ratelimit`)."""
