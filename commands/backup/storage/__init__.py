"""Where backups are kept: a local folder or S3, behind one interface."""
