"""Thin resolvers: read the context, call a loader or a domain service, answer domain objects
(each schema field builds its type from them with `from_domain`)."""
