"""Input translation shared by every domain: documents and uploaded files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry.types import Info

from registry.problems import DomainError, ProblemCode, problem
from registry.uploads import Upload
from registry.validators.documents import DocumentInput, DocumentType
from schema.common.convert import opt
from schema.context import Context

if TYPE_CHECKING:
    from schema.performers.inputs import IdentityDocumentInput


def document_input(doc: IdentityDocumentInput) -> DocumentInput:
    return DocumentInput(
        type=DocumentType(doc.type),
        number=doc.number,
        full_name=doc.full_name,
        birth_date=opt(doc.birth_date),
        nationality=opt(doc.nationality),
        mrz=opt(doc.mrz),
        expires_on=opt(doc.expires_on),
    )


async def read_upload(info: Info[Context, Any], upload: object, *field: str) -> Upload | None:
    """The uploaded file's bytes, refused above the per-file limit without reading further."""
    if upload is None or opt(upload) is None:
        return None
    read = getattr(upload, "read", None)  # the ASGI layer's UploadFile; duck-typed to keep schema web-free
    if not callable(read):
        raise DomainError(problem(ProblemCode.INVALID_INPUT, "Send the file as a multipart upload.", *field))
    limit = info.context.file_limit
    data = await read(limit + 1)
    if len(data) > limit:
        message = f"The file is larger than the {limit // (1024 * 1024)} MiB allowed."
        raise DomainError(problem(ProblemCode.LIMIT_EXCEEDED, message, *field))
    return Upload(
        data=data, content_type=getattr(upload, "content_type", None), filename=getattr(upload, "filename", None)
    )
