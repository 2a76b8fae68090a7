"""Run plans: decode, fix, encode (I/O and CPU)."""
