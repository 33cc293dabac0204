"""Tests of the framers and of both cores' decoders and encoders (src/fastframe/_framers.py
and the codecs of each core): values and options, golden wire bytes, round trips,
the cores against each other, bad input, misuse and memory."""
