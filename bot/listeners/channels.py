"""Which targets may be asked about from which channel (``allowed_channels``)."""

from __future__ import annotations

from commands.config.targets_file import Config, TargetConfig
from commands.errors import ExitCode, MigrateBotError


class ChannelNotAllowedError(MigrateBotError):
    """The target may not be asked about from this channel."""

    exit_code = ExitCode.REFUSED


def allowed_here(target: TargetConfig, channel_id: str | None) -> bool:
    """An empty ``allowed_channels`` means any channel."""
    return not target.allowed_channels or channel_id in target.allowed_channels


def check_channel(config: Config, target_name: str, channel_id: str | None) -> TargetConfig:
    """The target, if it may be asked for here; raises ``UnknownTargetError`` or
    ``ChannelNotAllowedError`` (which names the channels that may)."""
    target = config.target(target_name)
    if not allowed_here(target, channel_id):
        places = ", ".join(f"<#{c}>" for c in target.allowed_channels)
        raise ChannelNotAllowedError(f"`{target.name}` can only be asked for in {places}")
    return target


def targets_allowed_here(config: Config, channel_id: str | None) -> list[TargetConfig]:
    return [t for t in config.targets.values() if allowed_here(t, channel_id)]
