"""Unit tests of history's rules: plain functions and `Fake*` ports backed by dicts.

Nothing here touches NATS or MongoDB; `history_fakes` holds the fakes and message builders.
"""
