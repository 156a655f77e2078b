from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.retried_dead_letter import RetriedDeadLetter
from ...types import Response


def _get_kwargs(
    id: int,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/admin/dead-letters/{id}/retry".format(
            id=quote(str(id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | RetriedDeadLetter | None:
    if response.status_code == 200:
        response_200 = RetriedDeadLetter.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

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
) -> Response[ErrorBody | RetriedDeadLetter]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: int,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | RetriedDeadLetter]:
    """Handles a dead letter's event again. Handled: it leaves the dead letters (200). Failed again: it
    stays, with one
    more attempt and the new error (409 `invalid_state` naming it; 503 when the database is
    unavailable). Retry a saga's
    events in the order the list gives. Needs the admin token.

    Args:
        id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RetriedDeadLetter]
    """

    kwargs = _get_kwargs(
        id=id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: int,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | RetriedDeadLetter | None:
    """Handles a dead letter's event again. Handled: it leaves the dead letters (200). Failed again: it
    stays, with one
    more attempt and the new error (409 `invalid_state` naming it; 503 when the database is
    unavailable). Retry a saga's
    events in the order the list gives. Needs the admin token.

    Args:
        id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RetriedDeadLetter
    """

    return sync_detailed(
        id=id,
        client=client,
    ).parsed


async def asyncio_detailed(
    id: int,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | RetriedDeadLetter]:
    """Handles a dead letter's event again. Handled: it leaves the dead letters (200). Failed again: it
    stays, with one
    more attempt and the new error (409 `invalid_state` naming it; 503 when the database is
    unavailable). Retry a saga's
    events in the order the list gives. Needs the admin token.

    Args:
        id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RetriedDeadLetter]
    """

    kwargs = _get_kwargs(
        id=id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: int,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | RetriedDeadLetter | None:
    """Handles a dead letter's event again. Handled: it leaves the dead letters (200). Failed again: it
    stays, with one
    more attempt and the new error (409 `invalid_state` naming it; 503 when the database is
    unavailable). Retry a saga's
    events in the order the list gives. Needs the admin token.

    Args:
        id (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RetriedDeadLetter
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
        )
    ).parsed
