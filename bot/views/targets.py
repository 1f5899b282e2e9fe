"""``/migrate targets``: the configured targets, where their databases are, who approves."""

from __future__ import annotations

from bot.views.blocks import Block, code, context, escape, header, section
from bot.views.ids import BlockId
from bot.views.limits import MESSAGE_BLOCKS
from bot.views.people import people
from commands.config.targets_file import Config, TargetConfig

SHOWN = MESSAGE_BLOCKS - 3


def targets_blocks(config: Config) -> list[Block]:
    targets = list(config.targets.values())
    blocks = [header(f"Targets ({len(targets)})", BlockId.HEADER)]
    blocks += [_target(t, n) for n, t in enumerate(targets[:SHOWN])]
    if len(targets) > SHOWN:
        blocks.append(section(f"… and {len(targets) - SHOWN} more", block_id=BlockId.TARGETS))
    blocks.append(context(f"From {escape(config.path)}", block_id=BlockId.FOOTER))
    return blocks


def _target(target: TargetConfig, index: int) -> Block:
    database = "embedded PostgreSQL" if target.embedded_postgres else f"${target.database_url_env}"
    approvers = people(target.approvers, as_approvers=True)
    channels = ", ".join(f"<#{c}>" for c in target.allowed_channels) or "any channel"
    text = f"*{code(target.name)}*"
    if target.description:
        text += f"  {escape(target.description)}"
    return section(
        text,
        fields=[
            f"*Database*\n{escape(database)}",
            f"*Approvals*\n{target.approvals} from {approvers}",
            f"*Requested from*\n{channels}",
            f"*Backups*\n{escape(target.backup)}",
        ],
        block_id=f"{BlockId.TARGETS}-{index}",
    )
