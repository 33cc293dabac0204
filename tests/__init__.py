"""fastframe's tests, laid out as src/fastframe is: framers/, sockets/ (for
socket.py), aio/, and tools/ for what ships around the package; support/ holds what
they share.

Every directory is a package, so pytest imports each test module by its dotted
name (``tests.sockets.test_errors``), with the directory holding tests/ on sys.path
and never tests/ itself; two directories may hold test modules of the same name.
No directory here is named after a module of the standard library: a Python started
in tests/ (``python -m pytest`` run there) has tests/ first on sys.path, where a
sockets/ named socket/ would be imported in place of the standard library's socket.
"""
