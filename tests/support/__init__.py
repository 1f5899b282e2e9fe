"""Helpers the tests and benches share: real servers, projects, Slack senders, polling."""
