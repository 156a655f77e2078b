from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.dead_letter_page import DeadLetterPage
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    starting_after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["startingAfter"] = starting_after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/admin/dead-letters",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeadLetterPage | ErrorBody | None:
    if response.status_code == 200:
        response_200 = DeadLetterPage.from_dict(response.json())

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
) -> Response[DeadLetterPage | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    starting_after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[DeadLetterPage | ErrorBody]:
    """Events the saga dispatcher parked after their handler failed 5 times for a reason of its own (not
    the database
    being unavailable), oldest first, each with its consumer and last error; `settle_dead_letters`
    counts them. Needs
    the admin token.

    Args:
        starting_after (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeadLetterPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        starting_after=starting_after,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    starting_after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> DeadLetterPage | ErrorBody | None:
    """Events the saga dispatcher parked after their handler failed 5 times for a reason of its own (not
    the database
    being unavailable), oldest first, each with its consumer and last error; `settle_dead_letters`
    counts them. Needs
    the admin token.

    Args:
        starting_after (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeadLetterPage | ErrorBody
    """

    return sync_detailed(
        client=client,
        starting_after=starting_after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    starting_after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[DeadLetterPage | ErrorBody]:
    """Events the saga dispatcher parked after their handler failed 5 times for a reason of its own (not
    the database
    being unavailable), oldest first, each with its consumer and last error; `settle_dead_letters`
    counts them. Needs
    the admin token.

    Args:
        starting_after (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeadLetterPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        starting_after=starting_after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    starting_after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> DeadLetterPage | ErrorBody | None:
    """Events the saga dispatcher parked after their handler failed 5 times for a reason of its own (not
    the database
    being unavailable), oldest first, each with its consumer and last error; `settle_dead_letters`
    counts them. Needs
    the admin token.

    Args:
        starting_after (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeadLetterPage | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            starting_after=starting_after,
            limit=limit,
        )
    ).parsed
