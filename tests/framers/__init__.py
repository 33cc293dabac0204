"""Tests of the framers and of both cores' decoders and encoders (src/fastframe/framers.py,
and each core's decode, framings and encode): values and options, golden wire
bytes, round trips, the cores against each other, bad input, misuse and memory."""
