"""The sandbox: the real bot, a local Slack and a page in the browser that plays Slack.

``migrate-bot serve`` with no Slack credentials runs it (see ``runner``).
"""
