"""Billing rules and the services that apply them. Pure Python: no I/O imports here."""
