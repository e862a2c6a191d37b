"""Supervised child processes: own process group, prefixed output, clean stop, nothing left behind."""

from __future__ import annotations

import atexit
import collections
import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import IO, TypeVar

import psutil

T = TypeVar("T")

#: One lock for every line printed by the dev stack, so prefixed lines never interleave.
_OUTPUT_LOCK = threading.Lock()
_COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93", "95", "92", "94")
_PR_SET_PDEATHSIG = 1
#: Signals that stop a stack gracefully (SIGHUP: the terminal was closed).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class DevStackError(RuntimeError):
    """A dev-stack step failed; the message says what and what to do about it."""


class StopRequested(BaseException):
    """SIGINT or SIGTERM arrived; unwinds to the code that stops the stack.

    A BaseException (like KeyboardInterrupt) so that ``except Exception`` does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def announce(message: str, name: str = "devstack") -> None:
    """Print one line of the dev stack itself, in the same format as the children's output."""
    _emit(name, message)


def _emit(name: str, line: str) -> None:
    prefix = f"{name:>9} |"
    if sys.stdout.isatty():
        colour = _COLOURS[sum(name.encode()) % len(_COLOURS)]
        prefix = f"\x1b[{colour}m{prefix}\x1b[0m"
    with _OUTPUT_LOCK:
        # A closed terminal or pipe (`make run | tee` on Ctrl-C) must not stop the draining of
        # children's output, nor the stopping of the stack.
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.write(f"{prefix} {line}\n")
            sys.stdout.flush()


def _die_with_parent(signum: int) -> Callable[[], None]:
    """A ``preexec_fn`` asking Linux to signal the child when the spawning thread exits.

    This covers the one case a supervisor cannot handle itself: being SIGKILLed. It runs after
    the uid switch (``Popen(user=...)``), so the setting survives it.
    """
    parent = os.getpid()

    def preexec() -> None:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # the parent already died between fork and prctl
            os._exit(1)

    return preexec


class _Spawner:
    """Forks die-with-parent children from a thread that lives as long as the process.

    Linux sends PR_SET_PDEATHSIG when the *thread* that forked the child exits, so a child
    spawned from a short-lived thread (``asyncio.to_thread``'s pool) would be killed when that
    thread ends. The main thread and this daemon thread only end with the process.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, job: Callable[[], T]) -> T:
        if threading.current_thread() is threading.main_thread():
            return job()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="spawner", daemon=True)
                self._thread.start()
        done: Future[object] = Future()
        self._jobs.put((job, done))
        return done.result()  # type: ignore[return-value]

    def _serve(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                done.set_result(job())
            except BaseException as error:
                done.set_exception(error)


_SPAWNER = _Spawner()


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _is_gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; returns those still alive after ``timeout``.

    Zombies count as gone: an orphan's zombie lingers until PID 1 reaps it, which in some
    containers takes a while (psutil.wait_procs would wait for that).
    """
    pending = list(procs)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [proc for proc in pending if not _is_gone(proc)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return pending


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


#: Process logs can hold personal data and, should a redaction ever miss, secrets: owner only.
LOG_FILE_MODE = 0o600
LOG_DIR_MODE = 0o700


def private_log_dir(path: Path) -> Path:
    """Create ``path`` owner-only (0700), or tighten it, and tighten the ``*.log`` files an
    earlier run left readable to others (0644) to 0600."""
    path.mkdir(mode=LOG_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(LOG_DIR_MODE)
    for log in path.glob("*.log"):
        with contextlib.suppress(OSError):
            log.chmod(LOG_FILE_MODE, follow_symlinks=False)
    return path


def open_private_log(path: Path) -> IO[bytes]:
    """``path`` opened for appending: created 0600 (never readable by others, whatever the
    umask; an existing file is tightened to 0600), a missing directory created 0700; a symlink
    in its place is refused (O_NOFOLLOW)."""
    if not path.parent.is_dir():
        path.parent.mkdir(mode=LOG_DIR_MODE, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(path, flags, LOG_FILE_MODE)
    try:
        with contextlib.suppress(PermissionError):  # another owner's file: leave its mode
            os.fchmod(fd, LOG_FILE_MODE)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


class ManagedProcess:
    """One child process in its own session and process group, with its output captured.

    Output (stdout and stderr merged) is echoed line by line with a ``name |`` prefix, appended
    to ``log_file`` if given, and the last ``tail_lines`` lines are kept for error messages.
    ``stop()`` sends ``stop_signal`` (to the whole group unless ``signal_group`` is false), waits
    ``stop_timeout`` seconds, then SIGKILLs the group, and finally kills any straggler left in
    the group, so a stopped ManagedProcess never leaves a process behind. ``die_with_parent``
    has Linux send ``stop_signal`` to the child if this process dies, even by SIGKILL.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_file: Path | None = None,
        echo: bool = True,
        stop_signal: int = signal.SIGTERM,
        signal_group: bool = True,
        stop_timeout: float = 15.0,
        user: str | None = None,
        die_with_parent: bool = False,
        tail_lines: int = 200,
    ) -> None:
        self.name = name
        self.argv = [os.fspath(arg) for arg in argv]
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_file = log_file
        self.echo = echo
        self.stop_signal = stop_signal
        self.signal_group = signal_group
        self.stop_timeout = stop_timeout
        self.user = user
        self.die_with_parent = die_with_parent
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._popen: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._signalled = False

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} returncode={self.returncode}>"

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ManagedProcess:
        """Spawn the process; returns self. Raises DevStackError if the executable is missing."""
        if self._popen is not None:
            raise DevStackError(f"{self.name} was already started")
        extra: dict[str, object] = {}
        if self.user is not None:
            extra = {"user": self.user, "group": self.user, "extra_groups": []}
        preexec = _die_with_parent(self.stop_signal) if self.die_with_parent else None

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(  # noqa: S603 - argv is built by this package
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=preexec,
                **extra,  # type: ignore[call-overload]
            )

        try:
            self._popen = _SPAWNER.run(spawn) if self.die_with_parent else spawn()
        except OSError as error:
            raise DevStackError(f"cannot start {self.name} ({self.argv[0]}): {error}") from error
        self._reader = threading.Thread(target=self._pump, name=f"output-{self.name}", daemon=True)
        self._reader.start()
        return self

    def _pump(self) -> None:
        assert self._popen is not None and self._popen.stdout is not None
        log = open_private_log(self.log_file) if self.log_file is not None else None
        try:
            for raw in iter(self._popen.stdout.readline, b""):
                if log is not None:
                    log.write(raw)
                    log.flush()
                line = raw.decode("utf-8", "replace").rstrip()
                self._tail.append(line)
                if self.echo:
                    _emit(self.name, line)
        finally:
            if log is not None:
                log.close()
            self._popen.stdout.close()

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def pgid(self) -> int | None:
        """Process group id: the child leads its own group, so this equals its pid."""
        return self.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit; raises subprocess.TimeoutExpired after ``timeout``."""
        if self._popen is None:
            raise DevStackError(f"{self.name} was never started")
        return self._popen.wait(timeout)

    def group_alive(self) -> bool:
        """True while any process of this child's process group is still alive."""
        return self.pgid is not None and bool(group_members(self.pgid))

    def send_signal(self, signum: int) -> None:
        """Signal the leader, or the whole group when ``signal_group`` is set."""
        if self._popen is None or self._popen.poll() is not None:
            return
        if self.signal_group:
            _signal_group(self._popen.pid, signum)
        else:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(signum)

    def terminate(self) -> None:
        """Ask the process to stop (``stop_signal``) without waiting; sent at most once."""
        if not self._signalled:
            self._signalled = True
            self.send_signal(self.stop_signal)

    def kill(self) -> None:
        """SIGKILL the whole process group now."""
        if self._popen is not None:
            _signal_group(self._popen.pid, signal.SIGKILL)

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop gracefully, escalate to SIGKILL after ``timeout``; returns the exit code."""
        if self._popen is None:
            return None
        timeout = self.stop_timeout if timeout is None else timeout
        # Children that leave the group (PostgreSQL's call setsid()) are found through this list.
        descendants = self.descendants()
        if self._popen.poll() is None:
            self.terminate()
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                announce(f"{self.name} did not stop within {timeout:g}s; killing it")
                self.kill()
                self._popen.wait(10)
        self._kill_stragglers(descendants)
        if self._reader is not None:
            self._reader.join(timeout=2)
        return self._popen.returncode

    def descendants(self) -> list[psutil.Process]:
        """Live children and grandchildren of the process (empty once it has exited)."""
        if not self.is_running():
            return []
        try:
            return psutil.Process(self._popen.pid).children(recursive=True)  # type: ignore[union-attr]
        except psutil.Error:
            return []

    def _kill_stragglers(self, descendants: list[psutil.Process]) -> None:
        """Give survivors (group members, former descendants) 2 s after the leader, then kill."""
        assert self._popen is not None
        survivors = wait_gone(descendants, timeout=2)
        members = {proc.pid: proc for proc in group_members(self._popen.pid) + survivors}
        if not members:
            return
        for proc in members.values():
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        alive = wait_gone(members.values(), timeout=2)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        wait_gone(alive, timeout=3)

    # --- diagnostics --------------------------------------------------------------------------
    def tail(self, lines: int = 20) -> list[str]:
        """The last ``lines`` lines of output."""
        return list(self._tail)[-lines:]

    def describe_exit(self, lines: int = 20) -> str:
        """'<name> exited with code N', plus its last output lines, for error messages."""
        output = "\n".join(f"    {line}" for line in self.tail(lines)) or "    (no output)"
        return f"{self.name} exited with code {self.returncode}; last output:\n{output}"


def run_to_completion(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300.0,
    group: ProcessGroup | None = None,
) -> None:
    """Run a one-shot command with prefixed output; DevStackError unless it exits 0 in time."""
    proc = ManagedProcess(name, argv, env=env, cwd=cwd)
    if group is not None:
        group.add(proc)
    proc.start()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.stop(5)
        raise DevStackError(f"`{' '.join(proc.argv)}` did not finish within {timeout:g}s") from None
    proc.stop()
    if code != 0:
        raise DevStackError(f"`{' '.join(proc.argv)}` failed: {proc.describe_exit()}")


class ProcessGroup:
    """The processes of one stack, stopped together: higher tiers first, in reverse start order.

    Processes of one tier are signalled together and then awaited, so six services take one
    stop timeout rather than six. ``stop_all`` also runs at interpreter exit.
    """

    def __init__(self) -> None:
        self._entries: list[tuple[int, ManagedProcess]] = []
        self._stopping = False
        self._lock = threading.Lock()
        self._at_exit = False

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    @property
    def processes(self) -> list[ManagedProcess]:
        return [proc for _, proc in self._entries]

    def add(self, proc: ManagedProcess, tier: int = 0) -> ManagedProcess:
        """Register ``proc`` (started or not) to be stopped with the others."""
        if not self._at_exit:
            atexit.register(self.stop_all)
            self._at_exit = True
        self._stopping = False
        self._entries.append((tier, proc))
        return proc

    def start(self, proc: ManagedProcess, tier: int = 0) -> ManagedProcess:
        """Register, then start ``proc`` (registered first so a failed start is still cleaned)."""
        self.add(proc, tier)
        return proc.start()

    def first_exited(self, procs: Iterable[ManagedProcess] | None = None) -> ManagedProcess | None:
        """The first started process (of ``procs``, default all) that is no longer running."""
        for proc in self.processes if procs is None else procs:
            if proc.pid is not None and not proc.is_running():
                return proc
        return None

    def stop_all(self) -> None:
        """Stop every process; safe to call more than once."""
        with self._lock:
            self._stopping = True
            tiers = sorted({tier for tier, _ in self._entries}, reverse=True)
            for tier in tiers:
                procs = [p for t, p in reversed(self._entries) if t == tier and p.pid is not None]
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.stop()
            self._entries.clear()
            if self._at_exit:
                atexit.unregister(self.stop_all)
                self._at_exit = False

    def install_signal_handlers(self) -> None:
        """Turn SIGINT/SIGTERM/SIGHUP into StopRequested (main thread only).

        While stopping, a second SIGINT/SIGTERM (Ctrl-C again) SIGKILLs everything at once;
        SIGHUP (the terminal closed) lets the graceful stop finish.
        """

        def handler(signum: int, frame: FrameType | None) -> None:
            if not self._stopping:
                raise StopRequested(signum)
            if signum == signal.SIGHUP:
                return
            announce("second stop signal: killing every process now")
            for _, proc in self._entries:
                proc.kill()

        for signum in STOP_SIGNALS:
            signal.signal(signum, handler)


def stop_stale_processes(
    marker: str,
    executables: Iterable[str],
    *,
    owner_marker: str | None = None,
    timeout: float = 15.0,
) -> list[int]:
    """Stop leftovers of an earlier run: processes named in ``executables`` whose command line
    mentions ``marker`` (e.g. the absolute data directory). Returns the pids that were stopped.

    If such a process's parent is still alive and its command line contains ``owner_marker``
    (another live launcher), raise DevStackError instead of pulling its servers away.
    PostgreSQL gets SIGINT (fast shutdown: SIGTERM would wait for clients), others SIGTERM.
    """
    names = set(executables)
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.pid == os.getpid() or proc.info["name"] not in names:
                continue
            if not any(marker in arg for arg in proc.info["cmdline"] or ()):
                continue
            parent = proc.parent()
            if owner_marker and parent is not None and parent.pid != os.getpid():
                if any(owner_marker in arg for arg in parent.cmdline()):
                    raise DevStackError(
                        f"{proc.info['name']} (pid {proc.pid}) on {marker} belongs to another "
                        f"running dev stack (pid {parent.pid}); stop that one first"
                    )
            found.append(proc)
        except psutil.Error:
            continue
    for proc in found:
        announce(f"stopping leftover {proc.info['name']} (pid {proc.pid}) from an earlier run")
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGINT if proc.info["name"] == "postgres" else signal.SIGTERM)
    alive = wait_gone(found, timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    wait_gone(alive, 5)
    return [proc.pid for proc in found]
