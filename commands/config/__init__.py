"""The targets file: read once at start, validated in full, every error naming its key."""
