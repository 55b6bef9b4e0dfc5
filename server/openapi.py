"""The OpenAPI 3.1 description of Haven's public API, served at /api/openapi.json."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from . import __version__
from .crypto import BUCKETS, ENVELOPE_VERSION, IV_SIZE, POINT_SIZE, TAG_SIZE
from .i18n import LANGUAGES
from .validation import CENTRES

IDEMPOTENCY_KEY_PATTERN = "^[A-Za-z0-9_-]{16,128}$"
BASE64URL = "^[A-Za-z0-9_-]*$"

# (status, description, error codes) of every refusal POST /api/requests can give.
ERRORS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (400, "The body is not JSON.", ("malformed_json",)),
    (413, "The body is over 64 KB.", ("too_large",)),
    (415, "The body is not `application/json`.", ("unsupported_media_type",)),
    (
        422,
        "`invalid`: wrong shape, unknown envelope version, or a missing or bad "
        "Idempotency-Key; `errors` names each field. `unknown_key`: sealed to an inbox "
        "key this server does not hold; it can never be opened, so it must be written again.",
        ("invalid", "unknown_key"),
    ),
    (429, "Too many new requests from this client; see `Retry-After`.", ("rate_limited",)),
    (503, "Storage is unavailable; nothing was stored. Retry later.", ("unavailable",)),
)


def _encoded_length(size: int) -> int:
    """How many base64url characters, unpadded, ``size`` bytes take."""
    return (size * 4 + 2) // 3


def _b64(description: str, *sizes: int, pattern: str = BASE64URL) -> dict[str, Any]:
    """A base64url string of exactly one of ``sizes`` bytes once decoded."""
    lengths = [_encoded_length(size) for size in sizes]
    schema: dict[str, Any] = {"type": "string", "pattern": pattern, "description": description}
    if len(lengths) == 1:
        schema.update(minLength=lengths[0], maxLength=lengths[0])
    else:
        schema["anyOf"] = [{"minLength": length, "maxLength": length} for length in lengths]
    return schema


def _error_schema(codes: tuple[str, ...], with_fields: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "error": {"enum": list(codes)},
        "message": {"type": "string", "description": "For people, in the request's language."},
    }
    if with_fields:
        properties["errors"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/FieldError"},
        }
    return {"type": "object", "required": list(properties), "properties": properties}


def _retry_after() -> dict[str, Any]:
    return {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    }


def _error_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description, codes in ERRORS:
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": _error_schema(codes, status == 422)}},
        }
        if status in (429, 503):
            response["headers"] = _retry_after()
        responses[str(status)] = response
    return responses


def document(kids: Collection[str]) -> dict[str, Any]:
    """The description; ``kids`` are the inbox keys envelopes may be sealed to."""
    acknowledgement = {"$ref": "#/components/schemas/Acknowledgement"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Haven",
            "version": __version__,
            "description": (
                "Sealed help requests. The envelope format is in docs/envelope.md: "
                "ECDH P-256, HKDF-SHA256, AES-256-GCM, padded to a size bucket."
            ),
        },
        "paths": {
            "/api/requests": {
                "post": {
                    "operationId": "createHelpRequest",
                    "summary": "Deliver a sealed help request, exactly once per Idempotency-Key.",
                    "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/HelpRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Stored durably for the first time.",
                            "content": {"application/json": {"schema": acknowledgement}},
                        },
                        "200": {
                            "description": "Already stored under this key: the first answer again.",
                            "content": {"application/json": {"schema": acknowledgement}},
                        },
                        **_error_responses(),
                    },
                }
            },
            "/api/inbox-key": {
                "get": {
                    "operationId": "getInboxKey",
                    "summary": "The public key envelopes are sealed to.",
                    "responses": {
                        "200": {
                            "description": "The key; revalidate with If-None-Match.",
                            "headers": {"ETag": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/InboxKey"}
                                }
                            },
                        },
                        "304": {"description": "Not modified."},
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "getOpenAPI",
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "304": {"description": "Not modified."},
                    },
                }
            },
        },
        "components": {
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "description": "Made on the phone once per request; a replay gets 200.",
                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                }
            },
            "schemas": {
                "HelpRequest": {
                    "type": "object",
                    "required": ["centre", "lang", "envelope"],
                    "properties": {
                        "centre": {"enum": list(CENTRES)},
                        "lang": {"enum": list(LANGUAGES)},
                        "envelope": {"$ref": "#/components/schemas/Envelope"},
                    },
                },
                "Envelope": {
                    "type": "object",
                    "required": ["v", "kid", "epk", "iv", "ct"],
                    "additionalProperties": False,
                    "properties": {
                        "v": {"const": ENVELOPE_VERSION},
                        "kid": {
                            "enum": sorted(kids),
                            "description": "The id of an inbox key this server holds "
                            "(GET /api/inbox-key gives the current one).",
                        },
                        "epk": _b64(
                            f"Ephemeral public point, {POINT_SIZE} bytes, uncompressed (0x04).",
                            POINT_SIZE,
                            # 0x04 first: base64url's "B" (000001), then a character
                            # whose two leading bits are 00 (A to P).
                            pattern="^B[A-P][A-Za-z0-9_-]*$",
                        ),
                        "iv": _b64(f"AES-GCM nonce, {IV_SIZE} bytes.", IV_SIZE),
                        "ct": _b64(
                            f"Ciphertext with its {TAG_SIZE}-byte tag: one of "
                            f"{', '.join(str(size) for size in BUCKETS)} bytes plus {TAG_SIZE}.",
                            *(bucket + TAG_SIZE for bucket in BUCKETS),
                        ),
                    },
                },
                "Acknowledgement": {
                    "type": "object",
                    "required": ["reference", "contact_by", "contact_by_text", "received_at"],
                    "properties": {
                        "reference": {"type": "string", "examples": ["HV-7K3P-Q9XD"]},
                        "contact_by": {
                            "type": "string",
                            "format": "date",
                            "description": "The next Belgian working day after arrival.",
                        },
                        "contact_by_text": {
                            "type": "string",
                            "description": "contact_by written out in the request's language.",
                        },
                        "received_at": {"type": "string", "format": "date-time"},
                    },
                },
                "FieldError": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {
                        "field": {
                            "type": "string",
                            "examples": ["centre", "envelope.ct", "Idempotency-Key"],
                        },
                        "message": {"type": "string"},
                    },
                },
                "InboxKey": {
                    "type": "object",
                    "required": ["v", "kid", "crv", "x", "y", "raw"],
                    "properties": {
                        "v": {"const": ENVELOPE_VERSION},
                        "kid": {"type": "string"},
                        "crv": {"const": "P-256"},
                        "x": {"type": "string"},
                        "y": {"type": "string"},
                        "raw": {"type": "string"},
                    },
                },
            },
        },
    }
