"""What each platform accepts, as hand-written tables.

Every number cites where it comes from: `<platform>.md §n` is shared/platforms/<platform>.md
(itself sourced from the official docs named there), "seed 001/003" the product seeds.
tests/platforms/test_capabilities.py re-reads the key numbers from those files, so a
change there without a change here fails the build.

Where a limit depends on the account (X Premium's 25,000, a Mastodon instance's own
`max_characters`, a TikTok creator's max video duration), the table holds the default and
the account's adapter narrows or widens it with `dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Mapping

from polypost.platforms.base import Capabilities, MediaKind, Platform, PollRules, PostType
from polypost.posts.counting import (
    code_point_count,
    grapheme_count,
    mastodon_length,
    threads_length,
    utf8_length,
    utf16_length,
    x_weighted_length,
)

# Docs write "MB" for both 10^6 and 2^20 bytes; the larger reading never refuses a file
# the platform would take.
MB = 1024 * 1024
GB = 1024 * MB
SECOND = 1000  # durations are milliseconds
MINUTE = 60 * SECOND
# seed 003: "Max 24 segments" after the main post.
MAX_THREAD_SEGMENTS = 25

_IMAGE = MediaKind.IMAGE
_GIF = MediaKind.GIF
_VIDEO = MediaKind.VIDEO
_DOCUMENT = MediaKind.DOCUMENT
T = PostType

X = Capabilities(
    # x.md §2 post types (text, media, thread reply chain, poll); 2-4 images as one post.
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.THREAD, T.POLL}),
    # x.md §4 "maxWeightedTweetLength 280" (Premium's longer posts: account override).
    text_limit=280,
    count_text=x_weighted_length,
    text_unit="weighted characters",
    text_required=True,  # x.md §4 "valid if weighted length ≤280 and > 0 (unless media)"
    # x.md §2 "`media.media_ids` (1-4 strings)"; §3 "≤4 photos or 1 GIF or 1 video (no mixing)".
    max_media=4,
    media_kinds=frozenset({_IMAGE, _GIF, _VIDEO}),
    max_media_per_kind={_GIF: 1, _VIDEO: 1},
    mixed_media=False,
    carousel_max=4,
    threads=True,  # x.md §2 "Thread: ... reply.in_reply_to_tweet_id"
    max_thread_segments=MAX_THREAD_SEGMENTS,
    segment_max_media=4,
    edit=False,  # x.md §5: Premium authors only, 30-60 min window; "Otherwise: not supported"
    delete=True,  # x.md §5 "DELETE /2/tweets/{id}"
    # x.md §3 "Image ≤5 MB ...; animated GIF ≤15 MB ...; video ≤512 MB, 0.5-140 s"
    media_max_bytes={_IMAGE: 5 * MB, _GIF: 15 * MB, _VIDEO: 512 * MB},
    video_min_duration_ms=500,
    video_max_duration_ms=140 * SECOND,
    first_comment=True,  # posted as a self-reply, counted like a post
    first_comment_limit=280,
    # x.md §2 "`poll.options` (2-4 strings, 1-25 chars each), `poll.duration_minutes`
    # (5-10080)"; "Poll ... mutually exclusive with media".
    polls=PollRules(
        min_options=2,
        max_options=4,
        max_option_length=25,
        min_duration_minutes=5,
        max_duration_minutes=10080,
    ),
    native_listing=True,  # x.md §5 "Timeline GET /2/users/{id}/tweets"
    metrics=True,
)

INSTAGRAM = Capabilities(
    # instagram.md §2: image, reel (single videos publish as reels), carousel, story;
    # "Text-only, link, document, thread: Not supported (media required)".
    post_types=frozenset({T.IMAGE, T.CAROUSEL, T.VIDEO, T.REEL, T.STORY}),
    text_limit=2200,  # instagram.md §4 "Caption | 2,200 characters ... Count Unicode code points"
    count_text=code_point_count,
    max_media=10,  # instagram.md §4 "carousel 2-10; story 1; reel 1"
    media_kinds=frozenset({_IMAGE, _VIDEO}),
    media_required=True,
    carousel_max=10,
    carousel_kinds=frozenset({_IMAGE, _VIDEO}),  # §2 "2-10 items, images and/or videos"
    edit=False,  # instagram.md §5 "Edit caption | Not supported"
    delete=True,  # instagram.md §5 delete media (Facebook Login, instagram_manage_contents)
    # instagram.md §3: image ≤8 MiB; reels "stay ≤300 MB", 3 s - 15 min; stories 3-60 s.
    media_max_bytes={_IMAGE: 8 * MB, _VIDEO: 300 * MB},
    video_min_duration_ms=3 * SECOND,
    video_max_duration_ms=15 * MINUTE,
    type_video_durations={T.STORY: (3 * SECOND, 60 * SECOND)},
    image_content_types=frozenset({"image/jpeg"}),  # instagram.md §3 "JPEG only"
    feed_image_aspect=(4 / 5, 1.91),  # instagram.md §3 "aspect 4:5 to 1.91:1"
    first_comment=True,  # instagram.md §2 "First comment | POST HOST/{ig-media-id}/comments"
    first_comment_limit=2200,
    alt_text_limit=1000,  # instagram.md §2 "`alt_text` ≤1000 chars (images only)"
    cover=True,  # instagram.md §3 reels "cover `cover_url` JPEG ≤8 MB"
    max_hashtags=5,  # instagram.md §4 "caps posts/reels at 5 hashtags; enforce 5"
    max_mentions=20,  # instagram.md §4 "@mentions | 20 per caption"
    native_listing=True,  # instagram.md §5 "List own media"
    metrics=True,
)

FACEBOOK = Capabilities(
    # facebook.md §2: text, link/article, single image, multi-image, video, reel, story.
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.REEL, T.STORY, T.ARTICLE}),
    text_limit=63206,  # facebook.md §4 "Post text (`message`) | 63,206 characters"
    count_text=code_point_count,
    # facebook.md §3 "Multi-photo count | no hard number documented; product seed uses 10".
    max_media=10,
    media_kinds=frozenset({_IMAGE, _GIF, _VIDEO}),  # §3 "Photo | JPEG, PNG, GIF, BMP, TIFF"
    max_media_per_kind={_VIDEO: 1},
    mixed_media=False,  # §2 multi-image uses attached_media photos; video is its own call
    carousel_max=10,
    carousel_kinds=frozenset({_IMAGE, _GIF}),
    edit=True,  # facebook.md §5 "Edit post | POST …/{post-id} message="
    delete=True,  # facebook.md §5 "Delete post"
    # facebook.md §3: photos "keep ≤4 MB"; feed video ≤10 GB, ≤240 min; reels 3-90 s;
    # story video 3-60 s.
    media_max_bytes={_IMAGE: 4 * MB, _GIF: 4 * MB, _VIDEO: 10 * GB},
    video_max_duration_ms=240 * MINUTE,
    type_video_durations={T.REEL: (3 * SECOND, 90 * SECOND), T.STORY: (3 * SECOND, 60 * SECOND)},
    first_comment=True,  # facebook.md §2 "First comment | POST …/{post-id}/comments"
    link=True,  # facebook.md §2 "Link / article | … link=<url>"
    native_listing=True,  # facebook.md §5 "List posts"
    metrics=True,
)

LINKEDIN = Capabilities(
    # linkedin.md §2: text, single image, multi-image, video, document, article, poll;
    # "Thread, story, reel | not supported".
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.ARTICLE, T.DOCUMENT, T.POLL}),
    text_limit=3000,  # linkedin.md §4 "Commentary | **3,000 characters**"
    count_text=code_point_count,
    # linkedin.md §4 "Media | 1 video, or 1 document, or 1-20 images"; §2 "2-20 images".
    max_media=20,
    media_kinds=frozenset({_IMAGE, _GIF, _VIDEO, _DOCUMENT}),  # §3 "JPG, PNG, GIF"
    max_media_per_kind={_VIDEO: 1, _DOCUMENT: 1},
    mixed_media=False,
    carousel_max=20,
    carousel_kinds=frozenset({_IMAGE, _GIF}),
    edit=True,  # linkedin.md §5 "Edit | … PARTIAL_UPDATE … commentary"
    # linkedin.md §5: organization posts delete; member posts are best-effort.
    delete=True,
    # linkedin.md §3: image "≤5 MB per tools"; video 75 KB - 500 MB, 3 s - 30 min;
    # document ≤100 MB.
    media_max_bytes={_IMAGE: 5 * MB, _GIF: 5 * MB, _VIDEO: 500 * MB, _DOCUMENT: 100 * MB},
    video_min_duration_ms=3 * SECOND,
    video_max_duration_ms=30 * MINUTE,
    first_comment=True,  # linkedin.md §5 "Comment / first comment"
    # linkedin.md §2 poll "(2-4 options)"; LinkedIn Poll API: duration ONE_DAY,
    # THREE_DAYS, SEVEN_DAYS or FOURTEEN_DAYS. The post text is the poll's question,
    # "max 140 characters", options "max 30 characters each" (Posts API poll schema).
    polls=PollRules(
        min_options=2,
        max_options=4,
        max_option_length=30,
        question_limit=140,
        allowed_durations=frozenset({1440, 3 * 1440, 7 * 1440, 14 * 1440}),
    ),
    alt_text_limit=4086,  # linkedin.md §2 "altText ≤4,086 chars"
    # linkedin.md §5 "member: needs restricted r_member_social → treat as unsupported".
    native_listing=False,
    metrics=True,
)

TIKTOK = Capabilities(
    # tiktok.md §2: video and photo posts (1-35 images); "Text, link, carousel of video,
    # story, thread, document | not supported".
    post_types=frozenset({T.IMAGE, T.CAROUSEL, T.VIDEO}),
    # tiktok.md §4 "Video caption (`title`) | 2,200 **UTF-16 code units**";
    # "Photo `title` / `description` | 90 / 4,000 UTF-16 units" (the text is the description).
    text_limit=2200,
    count_text=utf16_length,
    text_unit="UTF-16 code units",
    type_text_limits={T.IMAGE: 4000, T.CAROUSEL: 4000},
    max_media=35,  # tiktok.md §3 "Count | 1 | 1-35"
    media_kinds=frozenset({_IMAGE, _VIDEO}),
    max_media_per_kind={_VIDEO: 1},
    mixed_media=False,
    media_required=True,
    carousel_max=35,
    edit=False,  # tiktok.md §5 "Edit / delete a post | not supported"
    delete=False,
    # tiktok.md §3: video ≤4 GB, ≥3 s, ≤ max_video_post_duration_sec (API max 10 min);
    # photos "JPEG, WebP", ≤20 MB each.
    media_max_bytes={_IMAGE: 20 * MB, _VIDEO: 4 * GB},
    video_min_duration_ms=3 * SECOND,
    video_max_duration_ms=10 * MINUTE,
    image_content_types=frozenset({"image/jpeg", "image/webp"}),
    native_listing=True,  # tiktok.md §5 "List own videos"
    metrics=True,
)

THREADS = Capabilities(
    # threads.md §2: text, image, video, carousel, reply-chain thread, poll;
    # "Story, document, article | not supported".
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.THREAD, T.POLL}),
    # threads.md §4 "**500 characters**; emojis count as their UTF-8 byte length".
    text_limit=500,
    count_text=threads_length,
    text_required=True,  # threads.md §2 "Text | media_type=TEXT, text"
    max_media=20,  # threads.md §4 "Media | 1 per single post; carousel 2-20"
    media_kinds=frozenset({_IMAGE, _VIDEO}),
    media_required=False,
    carousel_max=20,
    carousel_kinds=frozenset({_IMAGE, _VIDEO}),
    threads=True,  # threads.md §2 "Thread (reply chain) … reply_to_id (any media type)"
    max_thread_segments=MAX_THREAD_SEGMENTS,
    segment_max_media=20,
    edit=False,  # threads.md §5 "Edit | **not supported**"
    delete=True,  # threads.md §5 "Delete | DELETE …/{threads-media-id}"
    # threads.md §3: image JPEG/PNG ≤8 MB; video ≤1 GB, ≤300 s.
    media_max_bytes={_IMAGE: 8 * MB, _VIDEO: 1 * GB},
    video_max_duration_ms=300 * SECOND,
    image_content_types=frozenset({"image/jpeg", "image/png"}),
    first_comment=True,  # a reply container (threads.md §5 "Reply")
    first_comment_limit=500,
    # threads.md §2 "Poll | poll_attachment … (2-4 options, ≤25 chars), TEXT only";
    # the duration is not settable.
    polls=PollRules(min_options=2, max_options=4, max_option_length=25),
    link=True,  # threads.md §2 "Text + link card | … link_attachment=<url>"
    alt_text_limit=1000,  # threads.md §2 "[alt_text ≤1000]"
    max_links=5,  # threads.md §4 "Links | ≤5 unique links per post"
    native_listing=True,  # threads.md §5 "List own posts"
    metrics=True,
)

PINTEREST = Capabilities(
    # pinterest.md §2: image pin, carousel (2-5), video pin; "Text-only, thread, poll,
    # link card | not supported (a pin always needs media)".
    post_types=frozenset({T.IMAGE, T.CAROUSEL, T.VIDEO}),
    text_limit=800,  # pinterest.md §4 "description ≤800 chars (schema)"
    count_text=code_point_count,
    max_media=5,  # pinterest.md §4 "1 image, or 2-5 carousel images, or 1 video … No mixing"
    media_kinds=frozenset({_IMAGE, _VIDEO}),
    max_media_per_kind={_VIDEO: 1},
    mixed_media=False,
    media_required=True,
    carousel_max=5,
    edit=False,  # pinterest.md §5 PATCH "Marked **beta / not available to all apps**"
    delete=True,  # pinterest.md §5 "Delete | DELETE /v5/pins/{pin_id} → 204"
    # pinterest.md §3: images PNG/JPEG ≤20 MB; video ≤2 GB, 4 s - 15 min.
    media_max_bytes={_IMAGE: 20 * MB, _VIDEO: 2 * GB},
    video_min_duration_ms=4 * SECOND,
    video_max_duration_ms=15 * MINUTE,
    image_content_types=frozenset({"image/jpeg", "image/png"}),
    link=True,  # pinterest.md §2 "`link` (destination URL, ≤2048)"
    alt_text_limit=500,  # pinterest.md §4 "alt text ≤500"
    cover=True,  # pinterest.md §2 video pins need a cover
    # seed 001 "List native platform posts ... Supported on ... Pinterest" (GET /v5/pins).
    native_listing=True,
    metrics=True,  # pinterest.md §5 "Metrics | GET /v5/pins/{pin_id}/analytics"
)

YOUTUBE = Capabilities(
    # youtube.md §2: videos and Shorts ("same call"); "Text / image / poll / link post |
    # not supported by the API".
    post_types=frozenset({T.VIDEO, T.REEL}),
    # youtube.md §2 "`description` ≤5000 **bytes**" (the post text is the description).
    text_limit=5000,
    count_text=utf8_length,
    text_unit="bytes",
    max_media=1,
    media_kinds=frozenset({_VIDEO}),
    media_required=True,
    edit=True,  # youtube.md §5 "Edit | PUT /youtube/v3/videos"
    delete=True,  # youtube.md §5 "Delete | DELETE /youtube/v3/videos?id={id} → 204"
    # youtube.md §3 "max file **256 GB**; duration 15 min for unverified channels, up to
    # 12 h after phone verification"; §2 Shorts are "≤3 min".
    media_max_bytes={_VIDEO: 256 * GB},
    video_max_duration_ms=12 * 60 * MINUTE,
    type_video_durations={T.REEL: (1, 3 * MINUTE)},
    first_comment=True,  # youtube.md §5 "Comment / reply | top-level: commentThreads"
    first_comment_limit=10000,  # youtube.md §4 "comment text ≤10,000 chars"
    cover=True,  # youtube.md §3 "Thumbnail: thumbnails.set"
    # seed 001 "List native platform posts ... Supported on ... YouTube" (the channel's
    # uploads playlist, playlistItems.list).
    native_listing=True,
    metrics=True,
)

BLUESKY = Capabilities(
    # bluesky.md §2: text, images (1-4), video (1), reply-chain threads; "Poll | not
    # supported by the protocol".
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.THREAD}),
    # bluesky.md §4 "≤300 **grapheme clusters** and ≤3000 UTF-8 bytes".
    text_limit=300,
    count_text=grapheme_count,
    text_unit="graphemes",
    text_limit_bytes=3000,
    max_media=4,  # bluesky.md §3 "Image (embed.images) | ≤4 per post"
    media_kinds=frozenset({_IMAGE, _VIDEO}),
    max_media_per_kind={_VIDEO: 1},
    mixed_media=False,  # §2 "One embed per post: images **or** video **or** external"
    carousel_max=4,
    threads=True,  # bluesky.md §2 "Thread / reply | reply.root + reply.parent"
    max_thread_segments=MAX_THREAD_SEGMENTS,
    segment_max_media=4,
    edit=False,  # bluesky.md §5 "Edit | **Not supported** by Bluesky apps"
    delete=True,  # bluesky.md §5 "Delete | com.atproto.repo.deleteRecord"
    # bluesky.md §3: images "maxSize **2,000,000 bytes** since Apr 2026"; video
    # "maxSize 300,000,000 bytes", "duration ≤3 min".
    media_max_bytes={_IMAGE: 2_000_000, _VIDEO: 300_000_000},
    video_max_duration_ms=3 * MINUTE,
    first_comment=True,  # a self-reply
    first_comment_limit=300,
    link=True,  # bluesky.md §2 "Link card | … app.bsky.embed.external"
    native_listing=True,  # bluesky.md §5 "Author feed"
    metrics=True,
)

MASTODON = Capabilities(
    # mastodon.md §2: text, media, reply-chain thread, poll.
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.THREAD, T.POLL}),
    # mastodon.md §4 "max_characters (500 default)"; counted by StatusLengthValidator
    # (URLs 23, remote mentions as local, content warning included). Instances may raise
    # it: the adapter replaces the limit with the instance's.
    text_limit=500,
    count_text=mastodon_length,
    counts_spoiler_text=True,
    max_media=4,  # mastodon.md §4 "max_media_attachments (4)"
    media_kinds=frozenset({_IMAGE, _GIF, _VIDEO}),
    # Mastodon PostStatusService#validate_media!: at most 4 images, or 1 video alone.
    max_media_per_kind={_VIDEO: 1},
    mixed_media=False,
    carousel_max=4,
    carousel_kinds=frozenset({_IMAGE, _GIF}),
    threads=True,  # mastodon.md §2 "Thread | … in_reply_to_id"
    max_thread_segments=MAX_THREAD_SEGMENTS,
    segment_max_media=4,
    edit=True,  # mastodon.md §5 "Edit (3.5+) | PUT /api/v1/statuses/{id}"
    delete=True,  # mastodon.md §5 "Delete | DELETE /api/v1/statuses/{id}"
    # mastodon.md §3 (mastodon.social): image_size_limit 16 MiB, video_size_limit 99 MiB.
    media_max_bytes={_IMAGE: 16 * MB, _GIF: 16 * MB, _VIDEO: 99 * MB},
    first_comment=True,  # a self-reply
    first_comment_limit=500,
    # mastodon.md §4 "max_options (4), max_characters_per_option (50), min_expiration
    # (300 s), max_expiration (2,629,746 s ≈ 1 month)"; §2 "cannot be combined with media_ids".
    polls=PollRules(
        min_options=2,
        max_options=4,
        max_option_length=50,
        min_duration_minutes=5,
        max_duration_minutes=2_629_746 // 60,
    ),
    alt_text_limit=1500,  # mastodon.md §3 "alt text ≤ `description_limit`, default 1500"
    native_listing=True,  # mastodon.md §5 "Account posts"
    metrics=True,
)

DISCORD = Capabilities(
    # discord.md §2 (webhook): text, files, poll, link card (a custom embed for an
    # article). A webhook cannot start a reply chain in a text channel (error 220003), so
    # no threads.
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.DOCUMENT, T.POLL, T.ARTICLE}),
    text_limit=2000,  # discord.md §4 "`content` ≤2000 characters (Unicode code points)"
    count_text=code_point_count,
    max_media=10,  # discord.md §3 "**10 files per message**"
    media_kinds=frozenset({_IMAGE, _GIF, _VIDEO, _DOCUMENT}),
    carousel_max=10,
    carousel_kinds=frozenset({_IMAGE, _GIF, _VIDEO}),
    edit=True,  # discord.md §5 "Edit | PATCH /webhooks/{id}/{token}/messages/{message_id}"
    delete=True,  # discord.md §5 "Delete | DELETE /webhooks/{id}/{token}/messages/{id}"
    # discord.md §3 "default **10 MiB per file**".
    media_max_bytes={_IMAGE: 10 * MB, _GIF: 10 * MB, _VIDEO: 10 * MB, _DOCUMENT: 10 * MB},
    # discord.md §2 "≤10 answers, `duration` in **hours** (≤768 = 32 days)"; §4 "Poll
    # question ≤300 chars, answer ≤55 chars".
    polls=PollRules(
        min_options=2,
        max_options=10,
        max_option_length=55,
        question_limit=300,
        min_duration_minutes=60,
        max_duration_minutes=768 * 60,
        duration_step_minutes=60,
    ),
    link=True,  # discord.md §2 "Link card | automatic unfurl of URLs in `content`"
    # Discord attachment object: `description` (alt text) "max 1024 characters".
    alt_text_limit=1024,
)

SLACK = Capabilities(
    # slack.md §2: text, files (upload v2), thread replies (thread_ts); "Poll | not
    # supported natively".
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.DOCUMENT, T.THREAD}),
    text_limit=40000,  # slack.md §4 "`text` ≤40,000 characters"
    count_text=code_point_count,
    # slack.md §3 posts several files with one completeUploadExternal but states no
    # count; 10 is Polypost's cap.
    max_media=10,
    media_kinds=frozenset({_IMAGE, _GIF, _VIDEO, _DOCUMENT}),
    carousel_max=10,
    carousel_kinds=frozenset({_IMAGE, _GIF, _VIDEO}),
    threads=True,  # slack.md §2 "Thread | … thread_ts"
    max_thread_segments=MAX_THREAD_SEGMENTS,
    segment_max_media=10,
    edit=True,  # slack.md §5 "Edit | POST /api/chat.update"
    delete=True,  # slack.md §5 "Delete | POST /api/chat.delete"
    # slack.md §3 "Max file size 1 GB".
    media_max_bytes={_IMAGE: 1 * GB, _GIF: 1 * GB, _VIDEO: 1 * GB, _DOCUMENT: 1 * GB},
    first_comment=True,  # a thread reply
    alt_text_limit=1000,  # slack.md §3 "optional `alt_txt` (≤1000 chars)"
)

TELEGRAM = Capabilities(
    # telegram.md §2: text, photo, video, document, album (2-10), reply chain, poll.
    post_types=frozenset({T.TEXT, T.IMAGE, T.CAROUSEL, T.VIDEO, T.DOCUMENT, T.THREAD, T.POLL}),
    # telegram.md §4 "Message text | 1-4096 characters … (UTF-16 code units; count those
    # to be safe)"; "Caption | 0-1024".
    text_limit=4096,
    count_text=utf16_length,
    text_unit="UTF-16 code units",
    caption_limit=1024,
    max_media=10,  # telegram.md §4 "Media group | 2-10 items"
    media_kinds=frozenset({_IMAGE, _GIF, _VIDEO, _DOCUMENT}),
    max_media_per_kind={_GIF: 1},  # an animation is sent alone (sendAnimation)
    carousel_max=10,
    # telegram.md §2 "Photos and videos may be mixed; documents/audio only with their own type".
    carousel_kinds=frozenset({_IMAGE, _VIDEO}),
    threads=True,  # telegram.md §2 "Thread / reply chain | … reply_parameters.message_id"
    max_thread_segments=MAX_THREAD_SEGMENTS,
    segment_max_media=10,
    edit=True,  # telegram.md §5 "Edit text | editMessageText"
    delete=True,  # telegram.md §5 "Delete | deleteMessage … Only messages < 48 h old"
    # telegram.md §3/§4 "Upload size | photo 10 MB, other 50 MB".
    media_max_bytes={_IMAGE: 10 * MB, _GIF: 50 * MB, _VIDEO: 50 * MB, _DOCUMENT: 50 * MB},
    first_comment=True,  # a reply message
    first_comment_limit=4096,
    # telegram.md §4 "Poll | question 300, option 100 chars, ≤12 options"; §2
    # "open_period (5 s … ~30 days)".
    polls=PollRules(
        min_options=2,
        max_options=12,
        max_option_length=100,
        question_limit=300,
        min_duration_minutes=1,
        max_duration_minutes=30 * 1440,
    ),
)

SANDBOX = Capabilities(
    # The built-in simulated network: accepts everything up to Polypost's own input
    # limits, so tests and demos exercise every path. A sandbox account with a persona
    # uses that platform's table instead.
    post_types=frozenset(PostType),
    text_limit=100_000,
    count_text=code_point_count,
    max_media=35,
    media_kinds=frozenset(MediaKind),
    carousel_max=35,
    carousel_kinds=frozenset(MediaKind),
    threads=True,
    max_thread_segments=100,
    segment_max_media=35,
    edit=True,
    delete=True,
    first_comment=True,
    polls=PollRules(
        min_options=2,
        max_options=10,
        max_option_length=100,
        min_duration_minutes=1,
        max_duration_minutes=60 * 1440,
        with_media=True,
    ),
    link=True,
    alt_text_limit=5000,
    cover=True,
    native_listing=True,
    metrics=True,
)

CAPABILITIES: Mapping[Platform, Capabilities] = {
    Platform.X: X,
    Platform.INSTAGRAM: INSTAGRAM,
    Platform.FACEBOOK: FACEBOOK,
    Platform.LINKEDIN: LINKEDIN,
    Platform.TIKTOK: TIKTOK,
    Platform.THREADS: THREADS,
    Platform.PINTEREST: PINTEREST,
    Platform.YOUTUBE: YOUTUBE,
    Platform.BLUESKY: BLUESKY,
    Platform.MASTODON: MASTODON,
    Platform.DISCORD: DISCORD,
    Platform.SLACK: SLACK,
    Platform.TELEGRAM: TELEGRAM,
    Platform.SANDBOX: SANDBOX,
}


class UnknownPlatform(ValueError):
    """A platform (or sandbox persona) name Polypost does not know."""


def capabilities_for(platform: str, persona: str | None = None) -> Capabilities:
    """The capabilities a target is validated against.

    A sandbox account with a `persona` (a real platform's name) enforces that platform's
    table, so a sandbox "x" account refuses a 281-character post exactly like X.

    Raises:
        UnknownPlatform: `platform` or `persona` is not a known platform.
    """
    try:
        resolved = Platform(platform)
    except ValueError:
        raise UnknownPlatform(f"unknown platform {platform!r}") from None
    if resolved is Platform.SANDBOX and persona:
        try:
            resolved = Platform(persona)
        except ValueError:
            raise UnknownPlatform(f"unknown sandbox persona {persona!r}") from None
    return CAPABILITIES[resolved]
