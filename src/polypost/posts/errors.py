"""Errors of the posts API (422 codes per API.md, 409 state conflicts)."""

from __future__ import annotations

from polypost.core.errors import Conflict, Unprocessable


class ContentInvalid(Unprocessable):
    code = "content_invalid"
    default_message = "The content breaks a target platform's rules."


class PostTypeInvalid(Unprocessable):
    code = "post_type_invalid"
    default_message = "The post type does not fit the media or a target platform."


class MediaInvalid(Unprocessable):
    code = "media_invalid"
    default_message = "An attached media item cannot be used for a target."


class NotEditable(Conflict):
    code = "not_editable"
    default_message = "The post cannot be edited in its current state."


class Publishing(Conflict):
    code = "publishing"
    default_message = "The post is being published right now; retry in a few seconds."


class DuplicateContent(Conflict):
    code = "duplicate_content"
    default_message = "The same content went to the same account in the last 24 hours."


ERRORS_BY_CODE = {cls.code: cls for cls in (ContentInvalid, PostTypeInvalid, MediaInvalid)}
