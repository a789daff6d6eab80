"""Start and stop Azurite (Microsoft's Azure Storage emulator) for tests, on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from pydantic import SecretStr

from landcover_sdk.config import AzureCredentials

REPO = Path(__file__).resolve().parents[2]
# Azurite's well-known development account (public; documented by Microsoft).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_binary() -> str | None:
    """``LANDCOVER_AZURITE``, the project-local npm install (``make azurite``), or PATH."""
    explicit = os.environ.get("LANDCOVER_AZURITE")
    if explicit:
        return explicit
    local = REPO / ".azurite" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Azurite:
    """One Azurite blob service; ``stop()``/``start()`` keep its data folder and port."""

    def __init__(self, binary: str, location: Path) -> None:
        self.binary = binary
        self.location = location
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={self.endpoint};")

    def credentials(self) -> AzureCredentials:
        return AzureCredentials(storage_connection_string=SecretStr(self.connection_string))

    def start(self) -> None:
        self.location.mkdir(parents=True, exist_ok=True)
        log = (self.location / "azurite.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", str(self.location),
             "--silent", "--skipApiVersionCheck", "--loose"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"azurite exited with {self.proc.returncode}; see {self.location}/azurite.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("azurite did not start listening within 30 s")

    def stop(self) -> None:
        """Kill the server at once, as a crash would (SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def pause(self) -> None:
        """Freeze the server process (SIGSTOP): connections hang until :meth:`resume`."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen server run again (SIGCONT)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


# Azurite saves its metadata (containers, committed and staged blocks) every 5 s; a container
# created less than that before a crash is gone after the restart.
METADATA_AUTOSAVE_SECONDS = 5.0
