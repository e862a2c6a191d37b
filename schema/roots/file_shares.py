"""File sharing's root fields (resolvers in ``resolvers/file_shares.py``, which states which
are direct)."""

from __future__ import annotations

import strawberry

from resolvers.file_shares import resolve_revoke_share, resolve_share_file, resolve_shares
from schema.file_shares import FileShare
from schema.workflow_runs import WorkflowRun


@strawberry.type
class FileShareQuery:
    shares: list[FileShare] = strawberry.field(
        resolver=resolve_shares,
        description="A file's shares, ended ones too (its owner, an editor by share, or "
        "files.share with read access).",
    )


@strawberry.type
class FileShareMutation:
    share_file: WorkflowRun = strawberry.mutation(
        resolver=resolve_share_file,
        description="Start file_sharing: the share made, its recipients mailed, ended at its "
        "expiry; follow it with workflowProgress (a link's URL is in shares once made).",
    )
    revoke_share: bool = strawberry.mutation(
        resolver=resolve_revoke_share,
        description="Revoke a share of a file: in force at once (its link ends too).",
    )
