"""The file domain's root fields: files, uploads, rename, move, delete (resolvers in
``resolvers/files.py``, which states which are direct)."""

from __future__ import annotations

import strawberry

from resolvers.files import (
    resolve_create_upload,
    resolve_delete_file,
    resolve_file,
    resolve_files,
    resolve_move_file,
    resolve_rename_file,
)
from schema.files import File, FileConnection, UploadTarget


@strawberry.type
class FileQuery:
    files: FileConnection = strawberry.field(
        resolver=resolve_files,
        description="The active tenant's files in a folder, or by name (needs files.read).",
    )
    file: File = strawberry.field(
        resolver=resolve_file, description="One file of the active tenant (needs files.read)."
    )


@strawberry.type
class FileMutation:
    create_upload: UploadTarget = strawberry.mutation(
        resolver=resolve_create_upload,
        description="Where and how to upload a file: the direct URL or the tus endpoint.",
    )
    rename_file: File = strawberry.mutation(resolver=resolve_rename_file, description="Rename.")
    move_file: File = strawberry.mutation(
        resolver=resolve_move_file, description="Move into another folder."
    )
    delete_file: bool = strawberry.mutation(
        resolver=resolve_delete_file, description="Delete (hidden at once; purged later)."
    )
