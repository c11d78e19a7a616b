"""Unit tests of history's rules: plain functions and `Fake*` ports backed by dicts.

Nothing here touches NATS or MongoDB; `history_fakes` holds the fakes and message builders.
The randomised convergence test (`convergence_harness`) also runs the real Graph simulator (its
ASGI app, in-process over httpx) and the syncer's real `sync_tenant` and Graph adapter in front
of history's use cases; only the pipeline stream and the stores are in memory.
"""
