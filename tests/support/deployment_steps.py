"""The steps the shared-deployment tests take as people would: a target's table, Alice
asking through a front, the tick and Bob's approval, the terminal on the deployment."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.local_slack.workspace import Message
from bot.views.ids import ActionId
from commands.state.vocabulary import ChecklistItem
from tests.support.polling import wait_for
from tests.support.reliability.world import header
from tests.support.shared_deployment import ALICE, BOB, CLI, DEV, Deployment, Process

RUN_TIMEOUT = 240


def ask(
    deployment: Deployment, front: Process, text: str, shown: str | None = None
) -> tuple[Message, str]:
    """Alice's ``/migrate TEXT`` through ``front``: the request message (whose header ends
    with ``shown``, default TEXT), once it can be decided on, and its id."""
    before = {m.ts for m in deployment.messages(DEV)}
    sender = deployment.sender(front)
    assert sender.post(sender.command_body(text, user=ALICE, channel=DEV))[0] == 200

    def posted() -> Message | None:
        for message in deployment.messages(DEV):
            if message.ts not in before and header(message).endswith(shown or text):
                return message if "Approve" in str(message.blocks) else None
        return None

    message = wait_for(posted, RUN_TIMEOUT, f"the request message of {text}")
    return message, header(message).split(" ")[0]


def tick_and_approve(deployment: Deployment, front: Process, message: Message, rid: str) -> None:
    ticks = {"type": "checkboxes", "selected_options": [{"value": "code_reviewed"}]}
    body = deployment.click_body(front, message, ActionId.CHECKLIST, user=ALICE, **ticks)
    assert deployment.sender(front).post(body)[0] == 200
    wait_for(lambda: deployment.request(rid).tick_of(ChecklistItem.CODE_REVIEWED), 60, "the tick")
    click = deployment.click_body(front, message, ActionId.APPROVE, user=BOB)
    assert deployment.sender(front).post(click)[0] == 200


def cli(deployment: Deployment, *args: str) -> str:
    """``migrate-bot ARGS`` on the deployment's config; its output (it must succeed)."""
    done = subprocess.run(
        [str(CLI), *args],
        env=deployment.env(),
        capture_output=True,
        text=True,
        check=False,
        cwd=deployment.root,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def audit_verifies(deployment: Deployment) -> str:
    return cli(deployment, "audit", "verify")


def target_toml(name: str, project: Path, **keys: str) -> str:
    lines = {
        "database_url_env": f'"{name.upper()}_DATABASE_URL"',
        "script_location": f'"{project.as_posix()}"',
        "approvers": f'["{BOB}"]',
        "checklist": '["code_reviewed"]',
        "backup": f'"file://backups/{name}"',
        "backup_compression": '"none"',
        **keys,
    }
    return f"\n[targets.{name}]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items())
