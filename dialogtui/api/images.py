"""Fetching an image part's bytes for a picture in the transcript.

A signed URL is a bearer credential of its own: it is fetched by a separate plain request,
never through the API client, so neither the API key nor the visitor token (nor a cookie)
reaches the file host. Bounded in size and time; a `data:` URL is decoded here, locally.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_to_bytes, urlsplit

import httpx

from .models import is_data_url, is_expired

MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ImageFetchError(Exception):
    """The image could not be had: expired, refused, too big, not an image, unreachable."""


def decode_data_url(url: str, max_bytes: int = MAX_IMAGE_BYTES) -> tuple[str, bytes]:
    """The MIME type and bytes of a `data:` URL."""
    header, comma, payload = url.partition(",")
    if not comma:
        raise ImageFetchError("malformed data: URL")
    mime = header[5:].split(";", 1)[0].strip().lower()
    if ";base64" in header.lower():
        if len(payload) * 3 // 4 > max_bytes:
            raise ImageFetchError("image too large")
        try:
            body = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as error:
            raise ImageFetchError("malformed data: URL") from error
    else:
        body = unquote_to_bytes(payload)
    if len(body) > max_bytes:
        raise ImageFetchError("image too large")
    return mime, body


async def fetch_image(
    url: str,
    expires_at: str | None = None,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout: httpx.Timeout = IMAGE_TIMEOUT,
) -> bytes:
    """An image's bytes from an http(s) or `data:` URL, never after `expires_at`.

    Raises ImageFetchError for anything but an image/* answer of at most `max_bytes`."""
    if is_data_url(url):
        mime, body = decode_data_url(url, max_bytes)
        if not mime.startswith("image/"):
            raise ImageFetchError("not an image")
        return body
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ImageFetchError("unsupported URL")
    if is_expired(expires_at):
        raise ImageFetchError("link expired")
    try:
        # A client of its own: no base URL, no default headers, no cookie jar shared with the API.
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "image/*"}) as response,
        ):
            if response.status_code != 200:
                raise ImageFetchError(f"HTTP {response.status_code}")
            mime = response.headers.get("content-type", "").split(";", 1)[0].strip()
            if not mime.lower().startswith("image/"):
                raise ImageFetchError("not an image")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ImageFetchError("image too large")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ImageFetchError("image too large")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as error:
        raise ImageFetchError(type(error).__name__) from error
