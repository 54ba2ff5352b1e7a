"""Thin resolvers: read the context, call a loader or a domain service, map to schema types."""
