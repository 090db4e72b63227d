"""The benchmark suite (`python -m benchmarks.suite`, `make bench`) and standalone scripts."""
