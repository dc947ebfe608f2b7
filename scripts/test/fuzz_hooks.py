"""Schemathesis hooks for `make fuzz-api` (loaded through SCHEMATHESIS_HOOKS).

A fresh Idempotency-Key for every request whose headers were generated as valid: the examples
and coverage phases otherwise send one key with many bodies, which the API rightly refuses
(422, as the Idempotency-Key draft says), so every create would test the key instead of the
create. Keys generated as invalid (empty, too long) are left alone: those test the key.
"""

import uuid

import schemathesis
from schemathesis.generation import GenerationMode


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    key = next((name for name in headers if name.lower() == "idempotency-key"), None)
    if key is None:
        return
    meta = case._meta
    component = meta.components.get("header") if meta is not None else None
    if component is None or component.mode == GenerationMode.POSITIVE:
        headers[key] = str(uuid.uuid4())
