"""Experiments: outcomes per arm in, statistics and a verdict out; promotion of the winner.

The seam: `outcomes.ArmOutcomes` is the only input of the statistics. The simulation feeds it
now (`from_simulation`); the live outcome facts the engine writes as it runs feed it later
(engine/analytics builds them), through the same columns.
"""
