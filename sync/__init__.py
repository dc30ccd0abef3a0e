"""The sync engine: configuration, intake, the import pipeline, the store and the CLI."""
