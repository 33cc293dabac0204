"""fastframe's tests, laid out as src/fastframe is: framers/, socket/, aio/, and
tools/ for what ships around the package; support/ holds what they share.

Every directory is a package, so pytest imports each test module by its dotted
name (``tests.socket.test_errors``) with the directory holding tests/ on
sys.path, never tests/ itself: tests/socket/ cannot shadow the standard library's
socket, and two directories may hold test modules of the same name.
"""
