"""Recovery: the manager, its ladder of strategies, breaker, locks, resume after restart."""
