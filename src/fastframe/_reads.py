"""What a FramedSocket's decoder cuts: frames of its framer, or one of the raw
reads.  The API (fastframe/socket.py) asks each core's loop for a raw read by
these numbers; the compiled core checks at import that its own are the same."""

FRAMES = 0  # frames of the socket's framer
EXACTLY = 1  # recv_exactly(n)
UNTIL = 2  # recv_until(delimiter, keep=, max_size=)
UNTIL_EOF = 3  # recv_until_eof(max_size=)
