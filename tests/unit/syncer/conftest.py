"""Unit tests of the syncer: pure domain functions, and the sync flow driven through dict-backed
`Fake*` ports (syncer_fakes.py). The Graph adapter is exercised over httpx's MockTransport with a
recording sleep. No network, no NATS, no simulator at this level.
"""
