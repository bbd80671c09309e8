"""HTTP helpers for avatar tests: multipart GraphQL uploads and an onboarding client with its own performer."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.conftest import gql
from tests.factories import resident_id, years_ago
from tests.registry.avatars.helpers import mime_of

AVATAR_FIELDS = """
  id externalRef name kind label status imageUrl width height sha256 perceptualHash createdAt updatedAt
  likeness { rightsHolderNameMasked portrait voice signedAt validUntil revokedAt }
"""
REGISTER = f"""mutation($input: RegisterAvatarInput!) {{
  registerAvatar(input: $input) {{ avatar {{ {AVATAR_FIELDS} }} problems {{ code message field }} }}
}}"""


async def upload_gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    files: dict[str, tuple[bytes, str | None]],
    *,
    token: str | None,
) -> httpx.Response:
    """A GraphQL multipart request: `files` maps a variable path (e.g. input.image) to (bytes, content type)."""
    mapping = {str(i): [f"variables.{path}"] for i, path in enumerate(files)}
    parts = {
        str(i): ("upload.bin", data, content_type or "application/octet-stream")
        for i, (data, content_type) in enumerate(files.values())
    }
    headers = {"Apollo-Require-Preflight": "true", **({"Authorization": f"Bearer {token}"} if token else {})}
    form = {
        "operations": orjson.dumps({"query": query, "variables": variables}).decode(),
        "map": orjson.dumps(mapping).decode(),
    }
    return await client.post("/graphql", data=form, files=parts, headers=headers)


def avatar_input(operator_id: str, **changes: Any) -> dict[str, Any]:
    return {"name": "小星", "operatorId": operator_id, "image": None, **changes}


async def register_avatar(
    client: httpx.AsyncClient,
    token: str,
    operator_id: str,
    image: bytes,
    content_type: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """The registerAvatar payload (asserting the HTTP exchange itself went fine)."""
    response = await upload_gql(
        client,
        REGISTER,
        {"input": avatar_input(operator_id, **changes)},
        {"input.image": (image, content_type or mime_of(image))},
        token=token,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["registerAvatar"]  # type: ignore[no-any-return]


START = """mutation($ref: String!) {
  startOnboarding(input: {role: ROOM_OPERATOR, externalRef: $ref, ttlSeconds: 600}) {
    session { id clientToken } problems { code }
  }
}"""
REGISTER_PERFORMER = """mutation($input: RegisterPerformerInput!) {
  registerPerformer(input: $input) { performer { id } problems { code } }
}"""


async def onboarded_room_operator(client: httpx.AsyncClient, token: str, ref: str = "app-op-1") -> tuple[str, str]:
    """(client token, performer id): a room operator registered through its own onboarding client."""
    started = (await gql(client, START, {"ref": ref}, token=token)).json()
    client_token = started["data"]["startOnboarding"]["session"]["clientToken"]
    registration = {
        "role": "ROOM_OPERATOR",
        "document": {"type": "RESIDENT_ID_CARD", "number": resident_id(years_ago(29)), "fullName": "吴九"},
        "phone": "13700137000",
    }
    answer = (await gql(client, REGISTER_PERFORMER, {"input": registration}, token=client_token)).json()
    performer = answer["data"]["registerPerformer"]["performer"]
    assert performer is not None, answer
    return client_token, performer["id"]
