from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_api_key_request import CreateApiKeyRequest
from ...models.created_api_key import CreatedApiKey
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: CreateApiKeyRequest | None | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/api-keys",
    }

    if isinstance(body, CreateApiKeyRequest):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreatedApiKey | ErrorBody | None:
    if response.status_code == 201:
        response_201 = CreatedApiKey.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if response.status_code == 504:
        response_504 = ErrorBody.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CreatedApiKey | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateApiKeyRequest | None | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[CreatedApiKey | ErrorBody]:
    """Add an API key to the caller's merchant, in the caller's mode (a live key may ask for a test key
    with
    `livemode: false`; a test key makes test keys only); the key is in the answer and nowhere else (a
    retry with the same
    Idempotency-Key answers the same key when Settle has a master key to keep it sealed, 409 otherwise).
    Rotate a key
    by adding one, switching to it, then revoking the old one.

    Args:
        idempotency_key (str | Unset):
        body (CreateApiKeyRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedApiKey | ErrorBody]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: CreateApiKeyRequest | None | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> CreatedApiKey | ErrorBody | None:
    """Add an API key to the caller's merchant, in the caller's mode (a live key may ask for a test key
    with
    `livemode: false`; a test key makes test keys only); the key is in the answer and nowhere else (a
    retry with the same
    Idempotency-Key answers the same key when Settle has a master key to keep it sealed, 409 otherwise).
    Rotate a key
    by adding one, switching to it, then revoking the old one.

    Args:
        idempotency_key (str | Unset):
        body (CreateApiKeyRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedApiKey | ErrorBody
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateApiKeyRequest | None | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[CreatedApiKey | ErrorBody]:
    """Add an API key to the caller's merchant, in the caller's mode (a live key may ask for a test key
    with
    `livemode: false`; a test key makes test keys only); the key is in the answer and nowhere else (a
    retry with the same
    Idempotency-Key answers the same key when Settle has a master key to keep it sealed, 409 otherwise).
    Rotate a key
    by adding one, switching to it, then revoking the old one.

    Args:
        idempotency_key (str | Unset):
        body (CreateApiKeyRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatedApiKey | ErrorBody]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: CreateApiKeyRequest | None | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> CreatedApiKey | ErrorBody | None:
    """Add an API key to the caller's merchant, in the caller's mode (a live key may ask for a test key
    with
    `livemode: false`; a test key makes test keys only); the key is in the answer and nowhere else (a
    retry with the same
    Idempotency-Key answers the same key when Settle has a master key to keep it sealed, 409 otherwise).
    Rotate a key
    by adding one, switching to it, then revoking the old one.

    Args:
        idempotency_key (str | Unset):
        body (CreateApiKeyRequest | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatedApiKey | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
