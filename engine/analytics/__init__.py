"""Analytics: outcome facts the engine keeps as it runs, their recount, and the numbers read."""
