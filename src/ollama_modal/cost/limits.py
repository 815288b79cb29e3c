"""Upper bounds of what the cost model accepts from a user, in one place (the CLI's flags and
the library's checks use these).

A span is simulated a day at a time, so memory does not grow with ``--days``; time does, by
about a second per month of busy traffic, hence the bound.
"""

#: Longest span `omc cost` / `omc recommend` simulate: ten years.
MAX_DAYS = 3650.0
#: Highest mean request rate accepted (requests per minute).
MAX_RPM = 1_000_000.0
#: Longest service time or cold start accepted (seconds): a day.
MAX_SECONDS = 86_400.0
