"""The ``adx`` command: ``migrate``, ``temporal setup``, ``billing setup``, ``backup``, ``dev``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from services.common.logging import configure_logging
from services.common.settings import load_settings, stop_on_production_problems

NAMESPACES = ("adx-development", "adx-staging", "adx-production")


def _migrate(_: argparse.Namespace) -> int:
    from storage.migrate import migrate

    settings = load_settings()
    stop_on_production_problems(settings.database_role_problems())
    configure_logging(settings, "cli")
    asyncio.run(migrate(settings))
    return 0


def _temporal_setup(args: argparse.Namespace) -> int:
    from services.common.namespaces import register_namespaces

    settings = load_settings()
    configure_logging(settings, "cli")
    created = asyncio.run(
        register_namespaces(settings, args.namespace or NAMESPACES, args.retention_days)
    )
    for name, was_created in created.items():
        print(f"{name}: {'registered' if was_created else 'already registered'}")
    return 0


def _schedule_reconciliation(args: argparse.Namespace) -> int:
    from services.common.data_migration import ensure_nightly_schedule
    from services.common.settings import ServiceName
    from services.common.temporal import connect_temporal

    settings = load_settings()
    configure_logging(settings, "cli")

    async def schedule() -> dict[str, bool]:
        client = await connect_temporal(settings)
        queue = settings.task_queue(ServiceName.workflow)
        tenants: list[str | None] = list(args.tenant or [])
        if args.all_tenants:
            tenants.append(None)
        return {
            t or "all tenants": await ensure_nightly_schedule(client, t, task_queue=queue)
            for t in tenants
        }

    for tenant, created in asyncio.run(schedule()).items():
        print(f"{tenant}: nightly data_migration dry run {'scheduled' if created else 'kept'}")
    return 0


def _schedule_file_purge(args: argparse.Namespace) -> int:
    from services.common.settings import ServiceName
    from services.common.temporal import connect_temporal
    from services.file.purge.schedule import ensure_file_purge_schedule

    settings = load_settings()
    configure_logging(settings, "cli")
    retention = settings.file_purge_retention_seconds

    async def schedule() -> dict[str, bool]:
        client = await connect_temporal(settings)
        queue = settings.task_queue(ServiceName.file)
        return {
            t: await ensure_file_purge_schedule(
                client, t, retention_seconds=retention, task_queue=queue
            )
            for t in args.tenant
        }

    for tenant, created in asyncio.run(schedule()).items():
        print(f"{tenant}: nightly file_purge {'scheduled' if created else 'kept'}")
    return 0


def _rotate_keys(_: argparse.Namespace) -> int:
    from services.auth.signing_keys import rotate_dev_keys

    settings = load_settings()
    if settings.auth_signing_keys is not None:
        print("ADX_AUTH_SIGNING_KEYS is set: rotate by appending a key there", file=sys.stderr)
        return 2
    key = rotate_dev_keys(settings.data_dir / "keys")
    print(f"new active signing key {key.kid}; restart the auth service to use it")
    return 0


def _billing_setup(_: argparse.Namespace) -> int:
    from services.tenant.billing.factory import billing_provider
    from services.tenant.billing.stripe_provider import StripeBillingProvider, ensure_stripe_plans

    settings = load_settings()
    configure_logging(settings, "cli")
    provider = billing_provider(settings)

    async def setup() -> dict[str, str]:
        try:
            if not isinstance(provider, StripeBillingProvider):
                return {}
            return {
                plan.value: plan_id
                for plan, plan_id in (await ensure_stripe_plans(provider)).items()
            }
        finally:
            await provider.aclose()

    plans = asyncio.run(setup())
    if not plans:
        print(f"ADX_BILLING_PROVIDER={settings.billing_provider}: no Stripe plans to set up")
    for plan, plan_id in plans.items():
        print(f"{plan}: Stripe plan {plan_id}")
    return 0


def _backup_create(args: argparse.Namespace) -> int:
    from services.common.backup import BackupError, create_backup, describe

    settings = load_settings()
    configure_logging(settings, "cli")
    try:
        manifest = asyncio.run(
            create_backup(
                settings,
                args.out,
                temporal_db=args.temporal_db,
                temporal=not args.no_temporal,
                dev_keys=args.with_dev_keys,
            )
        )
    except BackupError as error:
        print(f"backup failed: {error}", file=sys.stderr)
        return 1
    print(f"backup written to {args.out}: {describe(manifest)}")
    return 0


def _backup_restore(args: argparse.Namespace) -> int:
    from services.common.backup import BackupError, describe, restore_backup

    settings = load_settings()
    configure_logging(settings, "cli")
    postgres = None
    if args.embedded_postgres:  # `make run`'s own server, started on the data dir just for this
        from services.devstack.postgres import start_embedded_postgres

        postgres, url = start_embedded_postgres(settings.data_dir, args.postgres_port, echo=False)
        settings = settings.model_copy(update={"database_url": url})
    try:
        manifest = asyncio.run(
            restore_backup(
                settings, args.source, temporal_db=args.temporal_db, temporal=not args.no_temporal
            )
        )
    except BackupError as error:
        print(f"restore refused: {error}", file=sys.stderr)
        return 1
    finally:
        if postgres is not None:
            postgres.stop()
    print(f"restored {args.source} ({describe(manifest)}); now run `adx migrate`, then start")
    return 0


def _dev(_: argparse.Namespace) -> int:
    from services.devstack.launcher import run_dev

    return run_dev() or 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="adx", description="ADX CORE operations")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "migrate", help="apply database migrations for every service schema"
    ).set_defaults(func=_migrate)
    temporal = sub.add_parser("temporal", help="Temporal administration")
    tsub = temporal.add_subparsers(dest="temporal_command", required=True)
    setup = tsub.add_parser(
        "setup", help="register the ADX namespaces and their search attributes (idempotent)"
    )
    setup.add_argument(
        "--namespace", action="append", help="namespace (repeatable); default: all three"
    )
    setup.add_argument("--retention-days", type=int, default=7, help="workflow history retention")
    setup.set_defaults(func=_temporal_setup)
    reconcile = tsub.add_parser(
        "schedule-reconciliation",
        help="the nightly data_migration dry run of each tenant, as a Temporal Schedule (idempotent)",
    )
    scope = reconcile.add_mutually_exclusive_group(required=True)
    scope.add_argument("--tenant", action="append", help="tenant id (repeatable)")
    scope.add_argument(
        "--all-tenants",
        action="store_true",
        help="one Schedule checking every tenant (data-migration-nightly-all)",
    )
    reconcile.set_defaults(func=_schedule_reconciliation)
    purge = tsub.add_parser(
        "schedule-file-purge",
        help="the nightly file_purge of each tenant's soft-deleted files, as a Temporal "
        "Schedule (idempotent; retention: ADX_FILE_PURGE_RETENTION_SECONDS)",
    )
    purge.add_argument("--tenant", action="append", required=True, help="tenant id (repeatable)")
    purge.set_defaults(func=_schedule_file_purge)
    auth = sub.add_parser("auth", help="auth administration")
    asub = auth.add_subparsers(dest="auth_command", required=True)
    asub.add_parser(
        "rotate-keys", help="retire the development signing key and make a new one"
    ).set_defaults(func=_rotate_keys)
    billing = sub.add_parser("billing", help="billing administration")
    bsub = billing.add_subparsers(dest="billing_command", required=True)
    bsub.add_parser(
        "setup", help="create the Stripe products and plans of the paid plans (idempotent)"
    ).set_defaults(func=_billing_setup)
    backup = sub.add_parser(
        "backup", help="back up / restore PostgreSQL, Temporal, the local blobs and the S3 bucket"
    )
    bksub = backup.add_subparsers(dest="backup_command", required=True)
    create = bksub.add_parser("create", help="write a backup directory (docs/runbooks/restore.md)")
    create.add_argument("--out", type=Path, required=True, help="new or empty directory")
    create.add_argument(
        "--with-dev-keys",
        action="store_true",
        help="include <ADX_DATA_DIR>/keys, the generated development keys (not in production)",
    )
    restore = bksub.add_parser(
        "restore", help="check a backup's checksums, then restore it into an empty stack"
    )
    restore.add_argument("--from", dest="source", type=Path, required=True, help="backup dir")
    restore.add_argument(
        "--embedded-postgres",
        action="store_true",
        help="restore into `make run`'s embedded PostgreSQL under ADX_DATA_DIR (started, stopped)",
    )
    restore.add_argument(
        "--postgres-port",
        type=int,
        default=int(os.environ.get("ADX_EMBEDDED_POSTGRES_PORT") or 5433),
        help="its port (ADX_EMBEDDED_POSTGRES_PORT, default 5433)",
    )
    for parser_ in (create, restore):
        parser_.add_argument(
            "--temporal-db",
            type=Path,
            help="the Temporal dev server's SQLite file (default <ADX_DATA_DIR>/temporal.db)",
        )
        parser_.add_argument(
            "--no-temporal",
            action="store_true",
            help="skip Temporal's store (a cluster: dump its database, see the runbook)",
        )
    create.set_defaults(func=_backup_create)
    restore.set_defaults(func=_backup_restore)
    sub.add_parser(
        "dev", help="run the whole platform locally (what `make run` does)"
    ).set_defaults(func=_dev)
    args = parser.parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
