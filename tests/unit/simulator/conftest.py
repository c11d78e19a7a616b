"""Unit tests of the simulator's pure parts: seeding, delta paging, batch mutations, tokens,
throttling arithmetic and fault rules. Nothing runs over the network here; each test builds
an in-memory `TenantDirectory` (or a rule, or a budget) and calls the functions directly.
"""
