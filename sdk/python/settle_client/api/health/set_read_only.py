from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.read_only_request import ReadOnlyRequest
from ...models.read_only_state import ReadOnlyState
from ...types import Response


def _get_kwargs(
    *,
    body: ReadOnlyRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/admin/read-only",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | ReadOnlyState | None:
    if response.status_code == 200:
        response_200 = ReadOnlyState.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

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
) -> Response[ErrorBody | ReadOnlyState]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: ReadOnlyRequest,
) -> Response[ErrorBody | ReadOnlyState]:
    """Turn the admin's read-only mode on or off, for every instance: stored, and applied by each instance
    within a
    second or so and across restarts (SETTLE_READ_ONLY and a database that refuses writes are not
    overridden).
    Needs the admin token.

    Args:
        body (ReadOnlyRequest): `POST /v1/admin/read-only`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ReadOnlyState]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: ReadOnlyRequest,
) -> ErrorBody | ReadOnlyState | None:
    """Turn the admin's read-only mode on or off, for every instance: stored, and applied by each instance
    within a
    second or so and across restarts (SETTLE_READ_ONLY and a database that refuses writes are not
    overridden).
    Needs the admin token.

    Args:
        body (ReadOnlyRequest): `POST /v1/admin/read-only`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ReadOnlyState
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ReadOnlyRequest,
) -> Response[ErrorBody | ReadOnlyState]:
    """Turn the admin's read-only mode on or off, for every instance: stored, and applied by each instance
    within a
    second or so and across restarts (SETTLE_READ_ONLY and a database that refuses writes are not
    overridden).
    Needs the admin token.

    Args:
        body (ReadOnlyRequest): `POST /v1/admin/read-only`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ReadOnlyState]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: ReadOnlyRequest,
) -> ErrorBody | ReadOnlyState | None:
    """Turn the admin's read-only mode on or off, for every instance: stored, and applied by each instance
    within a
    second or so and across restarts (SETTLE_READ_ONLY and a database that refuses writes are not
    overridden).
    Needs the admin token.

    Args:
        body (ReadOnlyRequest): `POST /v1/admin/read-only`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ReadOnlyState
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
