"""Two versions of one workflow type for the worker versioning test: each answers which code
it runs (``code`` query) and returns it once signalled to finish."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

VERSIONED = "test_versioned_probe"


@dataclass
class VersionedResult:
    code: str


class _Versioned:
    CODE = ""

    def __init__(self) -> None:
        self._finish = False

    @workflow.query
    def code(self) -> str:
        return self.CODE

    @workflow.signal
    def finish(self) -> None:
        self._finish = True

    async def wait_and_answer(self) -> VersionedResult:
        await workflow.wait_condition(lambda: self._finish)
        return VersionedResult(code=self.CODE)


@workflow.defn(name=VERSIONED)
class VersionedV1(_Versioned):
    CODE = "v1"

    @workflow.run
    async def run(self) -> VersionedResult:
        return await self.wait_and_answer()


@workflow.defn(name=VERSIONED)
class VersionedV2(_Versioned):
    CODE = "v2"

    @workflow.run
    async def run(self) -> VersionedResult:
        return await self.wait_and_answer()
