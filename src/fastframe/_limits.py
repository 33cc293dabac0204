"""The sizes both cores work to: the default frame limit, how much a receive
asks for, when a frame gets a buffer of its own, and the longest headers."""

# the largest frame a decoder returns unless told otherwise
DEFAULT_MAX_SIZE = 16 * 1024 * 1024

# get_buffer() hands out at least this much: big enough for few syscalls, small
# enough that the frames cut out of it are still in cache.
RECV_SIZE = 64 * 1024
# A frame at least this long is received straight into its own bytes object
# (compiled core), so its bytes are copied once; send_many() sends a payload this
# long between its frame's head and tail, uncopied.
LARGE_FRAME = 64 * 1024
# Memory reserved for a large frame runs ahead of the bytes that arrived by at most
# max(RESERVE_AHEAD, bytes arrived): a lying header cannot reserve what it announces.
RESERVE_AHEAD = 1024 * 1024
VARINT_MAX = 10  # bytes in a 64-bit varint
NETSTRING_DIGITS = 20  # digits of 2**64 - 1
