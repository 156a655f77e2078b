import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.list_sagas_status import ListSagasStatus
from ...models.seed_saga_page import SeedSagaPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: ListSagasStatus | Unset = UNSET,
    user_id: str | Unset = UNSET,
    date_from: datetime.datetime | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["userId"] = user_id

    json_date_from: str | Unset = UNSET
    if not isinstance(date_from, Unset):
        json_date_from = date_from.isoformat()
    params["dateFrom"] = json_date_from

    params["page"] = page

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/sagas",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | SeedSagaPage | None:
    if response.status_code == 200:
        response_200 = SeedSagaPage.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

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
) -> Response[ErrorBody | SeedSagaPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: ListSagasStatus | Unset = UNSET,
    user_id: str | Unset = UNSET,
    date_from: datetime.datetime | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[ErrorBody | SeedSagaPage]:
    """Seed 002's saga list: newest first, filtered, by page number: `{data, total, page, limit,
    totalPages}`.

    Args:
        status (ListSagasStatus | Unset):
        user_id (str | Unset):
        date_from (datetime.datetime | Unset):
        page (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SeedSagaPage]
    """

    kwargs = _get_kwargs(
        status=status,
        user_id=user_id,
        date_from=date_from,
        page=page,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    status: ListSagasStatus | Unset = UNSET,
    user_id: str | Unset = UNSET,
    date_from: datetime.datetime | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> ErrorBody | SeedSagaPage | None:
    """Seed 002's saga list: newest first, filtered, by page number: `{data, total, page, limit,
    totalPages}`.

    Args:
        status (ListSagasStatus | Unset):
        user_id (str | Unset):
        date_from (datetime.datetime | Unset):
        page (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SeedSagaPage
    """

    return sync_detailed(
        client=client,
        status=status,
        user_id=user_id,
        date_from=date_from,
        page=page,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: ListSagasStatus | Unset = UNSET,
    user_id: str | Unset = UNSET,
    date_from: datetime.datetime | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[ErrorBody | SeedSagaPage]:
    """Seed 002's saga list: newest first, filtered, by page number: `{data, total, page, limit,
    totalPages}`.

    Args:
        status (ListSagasStatus | Unset):
        user_id (str | Unset):
        date_from (datetime.datetime | Unset):
        page (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SeedSagaPage]
    """

    kwargs = _get_kwargs(
        status=status,
        user_id=user_id,
        date_from=date_from,
        page=page,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    status: ListSagasStatus | Unset = UNSET,
    user_id: str | Unset = UNSET,
    date_from: datetime.datetime | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> ErrorBody | SeedSagaPage | None:
    """Seed 002's saga list: newest first, filtered, by page number: `{data, total, page, limit,
    totalPages}`.

    Args:
        status (ListSagasStatus | Unset):
        user_id (str | Unset):
        date_from (datetime.datetime | Unset):
        page (int | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SeedSagaPage
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            user_id=user_id,
            date_from=date_from,
            page=page,
            limit=limit,
        )
    ).parsed
