"""The run: the tick, its SQL and the fast row writers."""
