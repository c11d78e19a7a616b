"""Unit tests of the benchmarks' pure parts (bench/ is scripts, not a package: the tests load
a module by its path). Nothing is started here: no NATS, no MongoDB, no simulator."""
