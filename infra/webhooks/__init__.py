"""Webhooks on the wire: where they may be sent (destinations) and how they are signed."""
