"""Raw argon2id verify rate at the service's configured parameters, on N threads at once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from services.auth.passwords import hasher

PASSWORD = "correct horse battery staple"  # noqa: S105 - a benchmark fixture, not a secret


@dataclass(frozen=True)
class VerifyRate:
    threads: int
    verifies: int
    seconds: float
    #: CPU seconds one verification takes (thread CPU time, so other load does not inflate it).
    cpu_per_verify: float

    @property
    def per_second(self) -> float:
        return self.verifies / self.seconds


def parameters() -> dict[str, int]:
    return {
        "time_cost": hasher.time_cost,
        "memory_cost_kib": hasher.memory_cost,
        "parallelism": hasher.parallelism,
        "hash_len": hasher.hash_len,
    }


def verify_rate(threads: int, duration: float, warmup: float = 1.0) -> VerifyRate:
    """Verifications completed by ``threads`` threads in ``duration`` seconds after ``warmup``.

    argon2-cffi releases the GIL while hashing, exactly as ``asyncio.to_thread`` in the service
    relies on, so N threads measure what N cores can verify.
    """
    encoded = hasher.hash(PASSWORD)
    start = time.perf_counter() + warmup
    end = start + duration
    counts = [0] * threads
    cpu = [(0.0, 0)] * threads

    def work(slot: int) -> None:
        began, done = time.thread_time(), 0
        while True:
            hasher.verify(encoded, PASSWORD)
            done += 1
            now = time.perf_counter()
            if now >= end:
                cpu[slot] = (time.thread_time() - began, done)
                return
            if now >= start:  # completions inside the window: unbiased at steady state
                counts[slot] += 1

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    cpu_per_verify = sum(c for c, _ in cpu) / max(1, sum(n for _, n in cpu))
    return VerifyRate(threads, sum(counts), duration, cpu_per_verify)
