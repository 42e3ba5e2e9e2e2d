"""skillpager: pages the engineer who knows the failing system, and says why."""
