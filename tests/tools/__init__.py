"""Tests of what ships around the package: the command line (src/fastframe/_cli/ and
the bench behind it, src/fastframe/_bench/), examples/, the examples in docs/, the
type stub, the builds, and the harnesses of fuzz/ and hardening/ run as tests."""
