"""Journey graph -> rules, the evaluator, and the policy rules."""
