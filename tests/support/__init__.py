"""What the tests share, one module per kind of thing; import from the modules.

Nothing is imported here: the fuzz harness imports ``tests.support.wire`` outside
pytest, with fastframe as its only requirement.
"""
