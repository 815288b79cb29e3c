"""Use cases: deploy, switch, status, keys, cost, bench. They return result models and never print."""
