"""fastframe's micro benchmarks (a package so its modules never clash with tests/)."""
