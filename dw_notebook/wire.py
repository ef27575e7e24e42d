"""Wire constants of the Batch API, shared by the client side and the local server.

This is the only module both sides import; it holds facts from the API notes, no behaviour.
"""

from __future__ import annotations

API_PREFIX = "/v1"
DOUBLEWORD_BASE_URL = "https://api.doubleword.ai/v1"

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
COMPLETIONS = "/v1/completions"
RESPONSES = "/v1/responses"
MODERATIONS = "/v1/moderations"
MESSAGES = "/v1/messages"
ENDPOINTS = (CHAT, EMBEDDINGS, COMPLETIONS, RESPONSES, MODERATIONS, MESSAGES)

COMPLETION_WINDOWS = {"24h": 24 * 3600, "1h": 3600}

VALIDATING = "validating"
IN_PROGRESS = "in_progress"
FINALIZING = "finalizing"
COMPLETED = "completed"
FAILED = "failed"
EXPIRED = "expired"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
STATUSES = (VALIDATING, IN_PROGRESS, FINALIZING, COMPLETED, FAILED, EXPIRED, CANCELLING, CANCELLED)
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, EXPIRED, CANCELLED})
ACTIVE_STATUSES = frozenset({VALIDATING, IN_PROGRESS, FINALIZING, CANCELLING})
CANCELLABLE = ACTIVE_STATUSES - {CANCELLING}  # still running, not stopping
#: the field of a batch object that says when it reached each terminal status
ENDED_AT = {
    COMPLETED: "completed_at", FAILED: "failed_at", EXPIRED: "expired_at",
    CANCELLED: "cancelled_at",
}  # fmt: skip

#: The local server's own models: no price, and the answers (and token counts) are made up.
SIMULATED_MODELS = ("mock", "echo")

MAX_REQUESTS_PER_FILE = 50_000
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_CUSTOM_ID_LENGTH = 64

# Error codes meaning "this request never ran": not charged, safe to retry.
EXPIRED_CODE = "batch_expired"
CANCELLED_CODE = "batch_cancelled"
NOT_RUN_CODES = frozenset({EXPIRED_CODE, CANCELLED_CODE, "request_cancelled", "cancelled"})

# Statuses worth retrying with backoff on any request (create only when idempotent for 409).
RETRIABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
