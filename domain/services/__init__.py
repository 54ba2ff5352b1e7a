"""Use cases: load, apply a domain rule, record the event, commit — inside one unit of work."""
