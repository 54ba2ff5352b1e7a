"""Adapters: database, migrations, settings, app assembly, CLI, workers."""
