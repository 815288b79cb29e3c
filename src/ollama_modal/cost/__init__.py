"""Cost and cold-start planning: traffic, a simulator of Modal's autoscaler, recommendations.

Imports numpy; the CLI imports this package inside the commands that need it.
"""
