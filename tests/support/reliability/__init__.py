"""Helpers of the reliability suite: the bot as a child process, its world, faults."""
