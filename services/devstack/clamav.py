"""ClamAV's ``clamd`` (Debian's ``clamav-daemon``) as a managed process, with a configuration and
a signature database of the project's own: no signature download, no freshclam.

The database is one ``.ndb`` body signature that detects the EICAR test string (the industry's
harmless stand-in for a virus), so a scan is real (clamd parses and matches the stream) while
the start takes a second instead of loading the official databases. Production points
``ADX_FILE_CLAMD_ADDRESS`` at a clamd with the real databases. `make bootstrap` and `.ci/run`
install the Debian package where it is missing; tests start one per session
(``tests/file/conftest.py``)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from services.devstack.ports import ensure_ports_free, wait_for_port
from services.devstack.processes import DevStackError, ManagedProcess

#: The body of the EICAR test file that the signature matches (hex in the ``.ndb`` line).
EICAR_MARKER = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
#: The name clamd reports for a match of the project's signature.
EICAR_SIGNATURE = "Adx.Test.EICAR"
DEBIAN_CLAMD = Path("/usr/sbin/clamd")


def clamd_binary() -> Path:
    """Debian's ``/usr/sbin/clamd``, else one on PATH."""
    if DEBIAN_CLAMD.is_file():
        return DEBIAN_CLAMD
    found = shutil.which("clamd")
    if found is None:
        raise DevStackError("no clamd: install Debian's clamav-daemon (`make bootstrap` does)")
    return Path(found)


def write_database(directory: Path) -> Path:
    """The project's signature database: ``<directory>/adx-test.ndb`` (name:target:offset:hex)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "adx-test.ndb"
    path.write_text(f"{EICAR_SIGNATURE}:0:*:{EICAR_MARKER.hex()}\n")
    return path


def write_config(base: Path, port: int, host: str = "127.0.0.1") -> Path:
    """``clamd.conf`` under ``base``: foreground, TCP on ``host:port``, the project's database,
    stream limits large enough for the file service's direct uploads."""
    database = base / "db"
    write_database(database)
    config = base / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                "Foreground yes",
                f"TCPSocket {port}",
                f"TCPAddr {host}",
                f"DatabaseDirectory {database}",
                f"TemporaryDirectory {base}",
                "LogVerbose no",
                "LogTime yes",
                "StreamMaxLength 64M",
                "MaxFileSize 64M",
                "MaxScanSize 128M",
                "MaxThreads 4",
                "SelfCheck 0",
                "",
            ]
        )
    )
    return config


@dataclass
class Clamd:
    """A running clamd and what it takes to start it again on the same address."""

    process: ManagedProcess
    host: str
    port: int
    config: Path

    @property
    def address(self) -> str:
        """As ``ADX_FILE_CLAMD_ADDRESS`` takes it."""
        return f"{self.host}:{self.port}"


def start_clamd(
    base: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    log_file: Path | None = None,
    echo: bool = False,
    startup_timeout: float = 60.0,
    die_with_parent: bool = False,
) -> Clamd:
    """Start clamd with its own config and database under ``base``; return once it listens."""
    ensure_ports_free({port: "clamd"}, host)
    base.mkdir(parents=True, exist_ok=True)
    config = write_config(base, port, host)
    proc = ManagedProcess(
        "clamd",
        [clamd_binary(), "--config-file", str(config)],
        log_file=log_file,
        echo=echo,
        die_with_parent=die_with_parent,
    ).start()
    try:
        wait_for_port(host, port, startup_timeout, process=proc)
    except BaseException:
        proc.stop()
        raise
    return Clamd(proc, host, port, config)
