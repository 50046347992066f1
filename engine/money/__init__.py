"""Money a case owes beside its principal: statutory rates as data, interest, fees, allocation."""
