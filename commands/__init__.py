"""The work of migrate-bot, Slack-free: config, planning, the Alembic runner and
everything the CLI and the Slack front both call."""
