"""Bulk import: a JSON array of post bodies or CSV rows, one result per row."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.auth.principal import Principal
from polypost.core.errors import ApiError, BadRequest
from polypost.core.runtime import Runtime
from polypost.posts import service
from polypost.posts.schemas import ImportResult, ImportResultRow, PostCreate

MAX_ROWS = 500
LIST_COLUMNS = ("accountIds", "mediaIds")
BOOL_COLUMNS = ("publishNow", "draft", "allowDuplicate")
JSON_COLUMNS = (
    "platformContent",
    "platformSchedules",
    "platformOptions",
    "thread",
    "article",
    "poll",
    "altText",
)


def _csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV with a header row of body field names; lists are `;`-separated, objects JSON."""
    rows: list[dict[str, Any]] = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key is None or value is None or value == "":
                continue
            key = key.strip()
            if key in LIST_COLUMNS:
                row[key] = [item.strip() for item in value.split(";") if item.strip()]
            elif key in BOOL_COLUMNS:
                row[key] = value.strip().lower() in ("1", "true", "yes")
            elif key in JSON_COLUMNS:
                try:
                    row[key] = json.loads(value)
                except json.JSONDecodeError:
                    row[key] = value  # reported as that row's validation error
            elif key == "coverOffsetMs":
                row[key] = int(value) if value.strip().isdigit() else value
            else:
                row[key] = value
        rows.append(row)
    return rows


async def read_rows(request: Request) -> list[Any]:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in ("text/csv", "application/csv"):
            rows: Any = _csv_rows(body.decode("utf-8-sig"))
        else:
            rows = json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"Unreadable import body: {exc}.") from None
    if isinstance(rows, dict) and isinstance(rows.get("posts"), list):
        rows = rows["posts"]
    if not isinstance(rows, list) or not rows:
        raise BadRequest('Send a non-empty JSON array of posts (or {"posts": [...]}) or text/csv.')
    if len(rows) > MAX_ROWS:
        raise BadRequest(f"At most {MAX_ROWS} rows per import.", details={"rows": len(rows)})
    return list(rows)


def _error_of(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        return {
            "code": "bad_request",
            "message": "Invalid row.",
            "details": {
                "fields": [
                    {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                    for e in exc.errors()
                ]
            },
        }
    assert isinstance(exc, ApiError)
    return {"code": exc.code, "message": exc.message, "details": exc.details}


async def import_rows(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    rows: list[Any],
    all_or_nothing: bool,
) -> ImportResult:
    results: list[ImportResultRow] = []
    for index, row in enumerate(rows, start=1):
        savepoint = await session.begin_nested()
        try:
            body = PostCreate.model_validate(row)
            view = await service.create(session, runtime, principal, body)
        except (ValidationError, ApiError) as exc:
            await savepoint.rollback()
            results.append(ImportResultRow(row=index, ok=False, error=_error_of(exc)))
            continue
        await savepoint.commit()
        results.append(
            ImportResultRow(row=index, ok=True, post_id=view.post.id, status=view.post.status)
        )
    failed = sum(1 for r in results if not r.ok)
    if all_or_nothing and failed:
        await session.rollback()
        session.info.pop("after_commit", None)
        for result in results:
            if result.ok:
                result.ok, result.post_id, result.status = False, None, None
                result.error = {"code": "not_imported", "message": "Another row failed."}
        return ImportResult(created=0, failed=len(results), all_or_nothing=True, results=results)
    return ImportResult(
        created=len(results) - failed, failed=failed, all_or_nothing=all_or_nothing, results=results
    )
