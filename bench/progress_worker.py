"""``python -m bench.progress_worker QUEUE``: a worker of ``bench/progress_workflow.py`` on
task queue ``QUEUE``, settings from the ``ADX_*`` environment (a process of its own, so its
workflow tasks and progress queries do not share an event loop with the bench's subscribers)."""

from __future__ import annotations

import asyncio
import sys

from bench.progress_workflow import ProgressStepsWorkflow
from services.common.settings import Settings
from services.common.temporal import build_worker, connect_temporal


async def serve(queue: str) -> None:
    settings = Settings()
    client = await connect_temporal(settings)
    async with build_worker(client, settings, task_queue=queue, workflows=[ProgressStepsWorkflow]):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
