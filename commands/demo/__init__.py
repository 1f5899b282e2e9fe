"""The demo target's data: realistic rows, and the reset a sandbox start does."""
