"""The static side of a migration: revision graph, plan, and the fingerprint an approval
binds to. Reads files and the version table; runs nothing."""
