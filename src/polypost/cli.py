"""`polypost` command line: serve, worker, migrate, keys, users, token, demo, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from polypost.settings import Settings, SettingsError, load_settings


def migrations_dir() -> Path:
    """Packaged migrations in a wheel install, the repo's `migrations/` in a checkout."""
    packaged = Path(__file__).parent / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    config.attributes["skip_logging"] = True
    return config


def migrate(settings: Settings) -> None:
    from alembic import command

    # "heads": feature branches of the migration graph all apply.
    command.upgrade(alembic_config(settings.database_url), "heads")


def _run(coro_factory: Callable[[Settings], Coroutine[Any, Any, int]]) -> int:
    settings = load_settings()
    return asyncio.run(coro_factory(settings))


async def _with_session(settings: Settings, body: Callable[[Any], Awaitable[int]]) -> int:
    from polypost.core.db import create_engine, session_factory

    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            result = await body(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    if not settings.distributed:
        migrate(settings)  # the embedded SQLite file is ours to keep current
    host = args.host or settings.host
    port = args.port or settings.port
    from polypost.core.logging import configure_logging

    configure_logging(settings.log_level)
    mode = "distributed" if settings.distributed else "embedded (in-process job runner)"
    print(f"Polypost serving on http://{host}:{port} in {mode} mode", flush=True)
    uvicorn.run(
        "polypost.app:serve_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from polypost.worker.settings import WorkerSettings, redis_settings

    load_settings()
    overrides: dict[str, Any] = {"redis_settings": redis_settings()}
    if args.max_jobs:
        overrides["max_jobs"] = args.max_jobs
    _use_uvloop()  # arq runs on the current event loop
    run_worker(WorkerSettings, **overrides)  # type: ignore[arg-type]
    return 0


def _use_uvloop() -> None:
    """Run the worker on uvloop where it exists (as `polypost serve` does through
    uvicorn): a publishing burst keeps thousands of tasks and futures in flight, and
    the default loop's own bookkeeping was a third of the worker's CPU."""
    try:
        import uvloop
    except ImportError:  # not built for this platform: the default loop works too
        return
    asyncio.set_event_loop(uvloop.new_event_loop())


def cmd_migrate(_: argparse.Namespace) -> int:
    settings = load_settings()
    migrate(settings)
    print("Database is at the latest revision.")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from polypost.auth.scopes import ALL_SCOPES
    from polypost.keys.service import issue_key
    from polypost.workspaces.service import get_or_create_workspace

    scopes = sorted({s.strip() for s in args.scopes.split(",") if s.strip()}) if args.scopes else []
    scopes = scopes or sorted(ALL_SCOPES)
    unknown = sorted(set(scopes) - ALL_SCOPES)
    if unknown:
        print(f"error: unknown scopes: {', '.join(unknown)}", file=sys.stderr)
        print(f"known scopes: {', '.join(sorted(ALL_SCOPES))}", file=sys.stderr)
        return 2

    async def body(settings: Settings) -> int:
        async def work(session: Any) -> int:
            workspace, created = await get_or_create_workspace(session, settings, args.workspace)
            _, plaintext = await issue_key(
                session,
                settings.signing_key,
                workspace.id,
                name=args.name or "cli",
                scopes=scopes,
                test=args.test,
            )
            if created:
                print(f"Created workspace {workspace.name} ({workspace.id})")
            print(f"Workspace: {workspace.id}")
            print(f"Scopes: {','.join(scopes)}")
            print(f"API key: {plaintext}")
            return 0

        return await _with_session(settings, work)

    return _run(body)


def cmd_demo(_: argparse.Namespace) -> int:
    from polypost.auth.scopes import ALL_SCOPES
    from polypost.keys.service import issue_key
    from polypost.workspaces.demo import ensure_demo_accounts
    from polypost.workspaces.service import get_or_create_workspace

    async def body(settings: Settings) -> int:
        async def work(session: Any) -> int:
            workspace, _ = await get_or_create_workspace(session, settings, "demo")
            accounts = await ensure_demo_accounts(session, workspace.id)
            _, plaintext = await issue_key(
                session,
                settings.signing_key,
                workspace.id,
                name="demo",
                scopes=sorted(ALL_SCOPES),
            )
            print(f"Workspace: demo ({workspace.id})")
            for account in accounts:
                print(f"Sandbox account: {account.handle} ({account.id})")
            print(f"API key: {plaintext}")
            return 0

        return await _with_session(settings, work)

    return _run(body)


def cmd_users_create(args: argparse.Namespace) -> int:
    from polypost.workspaces.users import add_member

    async def body(settings: Settings) -> int:
        async def work(session: Any) -> int:
            user, workspace = await add_member(
                session, settings, email=args.email, workspace_name=args.workspace, role=args.role
            )
            print(
                f"User {user.email} ({user.id}) is {args.role} of {workspace.name} ({workspace.id})"
            )
            return 0

        return await _with_session(settings, work)

    return _run(body)


def cmd_token(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from polypost.auth.jwt import mint_token
    from polypost.models import User

    async def body(settings: Settings) -> int:
        key = settings.jwt_private_key
        if key is None:
            print(
                "error: no development signing key in the data dir "
                "(tokens are minted only in embedded mode without POLYPOST_JWT_PUBLIC_KEYS)",
                file=sys.stderr,
            )
            return 2

        async def work(session: Any) -> int:
            user = (
                await session.execute(select(User).where(User.email == args.user.lower()))
            ).scalar_one_or_none()
            if user is None:
                print(
                    f"error: no user {args.user}; create one with 'polypost users create'",
                    file=sys.stderr,
                )
                return 2
            print(
                mint_token(
                    key,
                    subject=user.id,
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    ttl_seconds=args.ttl,
                )
            )
            return 0

        return await _with_session(settings, work)

    return _run(body)


def cmd_openapi(args: argparse.Namespace) -> int:
    from polypost.app import create_app

    spec = create_app(load_settings(), run_jobs=False).openapi()
    text = json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"Wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polypost", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (and, in embedded mode, the job runner)")
    serve.add_argument("--host", help="default POLYPOST_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default POLYPOST_PORT or 8000")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run an arq worker (distributed mode)")
    worker.add_argument("--max-jobs", type=int, help="concurrent jobs per process")
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="upgrade the database to the latest revision").set_defaults(
        func=cmd_migrate
    )

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key (and the workspace if needed)")
    create.add_argument("--workspace", required=True, help="workspace name")
    create.add_argument("--scopes", help="comma list; default every scope")
    create.add_argument("--name", help="a label for the key")
    create.add_argument("--test", action="store_true", help="issue an sk_test_ key")
    create.set_defaults(func=cmd_keys_create)

    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    ucreate = users.add_parser("create", help="create a user and add them to a workspace")
    ucreate.add_argument("email")
    ucreate.add_argument("--workspace", required=True, help="workspace name (created if absent)")
    ucreate.add_argument("--role", default="owner", choices=["owner", "admin", "editor", "viewer"])
    ucreate.set_defaults(func=cmd_users_create)

    token = sub.add_parser("token", help="mint a development dashboard JWT")
    token.add_argument("--user", required=True, help="the user's email")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)

    sub.add_parser(
        "demo", help="create the demo workspace, sandbox accounts and a full-scope key"
    ).set_defaults(func=cmd_demo)

    openapi = sub.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", default="openapi/openapi.json", help="path or '-'")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
