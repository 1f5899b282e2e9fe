"""The edges of migrate-bot: the Slack front and the command-line interface."""
