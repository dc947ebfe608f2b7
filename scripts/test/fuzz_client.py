"""The HTTP, mail and TOTP helpers that `make fuzz-api`'s seed (fuzz-seed.py) and hooks
(fuzz_hooks.py) share: calls to the gateway, links read from the mail sink's inbox, and the
codes an authenticator app would show. Python 3 standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import time
import urllib.request
import uuid

API = os.environ["FUZZ_BASE"].rstrip("/") + "/api/v1"
SINK = os.environ.get("MAIL_SINK_API", "http://127.0.0.1:1080").rstrip("/")
PASSWORD = "fuzzing passphrase 1"


class Failed(Exception):
    """A helper call that did not give what the fuzzed system promises."""


def call(method: str, path: str, token: str | None = None, body: object = None,
         content_type: str = "application/json") -> object:
    """One request to the gateway; the decoded JSON answer (None when empty). An answer that is
    not 2xx raises urllib.error.HTTPError."""
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{API}{path}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def mail_token(email: str, marker: str, limit: float = 30) -> str:
    """The token of the newest link after `marker` (`verify-email?token=`) mailed to `email`.
    The message is deleted once read, so the inbox stays short through a long run."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{SINK}/api/email", timeout=30) as response:
            mail = json.loads(response.read())
        for message in reversed(mail):
            if any(t["address"] == email for t in message.get("to", [])):
                found = re.search(re.escape(marker) + r"([A-Za-z0-9_.-]+)", message.get("text") or "")
                if found:
                    delete = urllib.request.Request(f"{SINK}/api/email/{message['id']}", method="DELETE")
                    urllib.request.urlopen(delete, timeout=30).close()
                    return found.group(1)
        time.sleep(0.3)
    raise Failed(f"no {marker} link for {email} in {SINK}")


def new_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def register(email: str, *, verify: bool = True) -> None:
    """Registers `email` with PASSWORD and, with `verify`, follows the emailed link."""
    call("POST", "/auth/register", body={"email": email, "password": PASSWORD, "name": "Fuzz"})
    if verify:
        call("POST", "/auth/verify-email", body={"token": mail_token(email, "verify-email?token=")})


def login(email: str) -> dict:
    return call("POST", "/auth/login", body={"email": email, "password": PASSWORD})


def totp_code(secret: str, step: int) -> str:
    """RFC 6238's code for `step` (HMAC-SHA-1, six digits), from the base32 `secret`."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


class Authenticator:
    """An app holding one secret. The API takes a code of the step before now, now or the step
    after, and only one later than the last it took, so this hands them out in that order."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.last = 0

    def code(self) -> str | None:
        now = int(time.time()) // 30
        step = max(now - 1, self.last + 1)
        if step > now + 1:
            return None
        self.last = step
        return totp_code(self.secret, step)
