"""S3 for the tests: moto's standalone server, a real HTTP endpoint on a free port.

boto3 talks to it exactly as it talks to AWS (signing, multipart, SSE
headers); nothing is patched in-process. ``s3`` gives each test a bucket of
its own and the AWS environment variables pointing at the server.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's server on a free local port for the block; its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            env={**os.environ, **FAKE_CREDENTIALS},
        )
        try:
            _wait_until_answering(endpoint, process, log)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:  # a loaded machine (load 17 seen): not under test
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto server for the session; its endpoint URL."""
    with moto_server() as endpoint:
        yield endpoint


def _wait_until_answering(endpoint: str, process: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"moto server exited: {log.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer at {endpoint} within {START_TIMEOUT_S}s")


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on the moto server, and a client to inspect it."""

    endpoint: str
    name: str
    client: Any

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return [item["Key"] for item in listed.get("Contents", [])]

    def open_uploads(self) -> list[str]:
        listed = self.client.list_multipart_uploads(Bucket=self.name)
        return [upload["Key"] for upload in listed.get("Uploads", [])]

    @contextmanager
    def authenticating(self) -> Iterator[None]:
        """Make moto check credentials and IAM policies (it accepts anything otherwise)."""
        self._set_auth(b"0")
        try:
            yield
        finally:
            self._set_auth(b"inf")

    def _set_auth(self, count: bytes) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth",
            data=count,
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def user_with_policy(self, name: str, actions: list[str]) -> dict[str, str]:
        """An IAM user allowed only ``actions``; its credentials as environment variables."""
        iam = boto3.client("iam", endpoint_url=self.endpoint)
        iam.create_user(UserName=name)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A bucket of this test's own, with the AWS chain pointed at the moto server."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):  # never the machine's own
        monkeypatch.setenv(key, os.devnull)
    client = boto3.client("s3", endpoint_url=s3_server)
    name = f"backups-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=name)
    return S3Bucket(endpoint=s3_server, name=name, client=client)
