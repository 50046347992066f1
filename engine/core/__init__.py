"""Plain data every floor uses: clock, settings, case state, event types, counts, words."""
