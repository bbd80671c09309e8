"""Uploaded evidence (consents, agreements): an image or a PDF, size-limited, stored content-addressed.

Images go through the avatar pipeline's decoder so their metadata (EXIF, GPS) is dropped; PDFs are
checked by signature and stored as sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry import config
from registry.avatars.images import ImageLimits, normalize_image_async
from registry.problems import DomainError, Problem, ProblemCode, problem

_EVIDENCE_LIMITS = ImageLimits(max_side=8192, min_side=32, max_pixels=50_000_000)


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    content_type: str | None
    filename: str | None = None


async def store_evidence(upload: Upload | None, *field: str) -> tuple[str | None, list[Problem]]:
    """(sha256 of the stored file, problems); (None, []) when nothing was uploaded."""
    if upload is None:
        return None, []
    limit = config.current().max_file_bytes
    if len(upload.data) > limit:
        return None, [
            problem(ProblemCode.LIMIT_EXCEEDED, f"The file is larger than {limit // (1024 * 1024)} MiB.", *field)
        ]
    if upload.data.startswith(b"%PDF-"):
        return await config.current().blobs.put(upload.data, "application/pdf"), []
    try:
        image = await normalize_image_async(upload.data, upload.content_type, _EVIDENCE_LIMITS)
    except DomainError:
        message = "The evidence must be a PDF or a PNG, JPEG or WebP image."
        return None, [problem(ProblemCode.INVALID_INPUT, message, *field)]
    return await config.current().blobs.put(image.data, image.content_type), []
