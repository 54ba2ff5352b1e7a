"""Who is calling, and may they: tokens, scopes, tenants."""
