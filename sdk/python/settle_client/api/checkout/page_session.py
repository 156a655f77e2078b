from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.page_view import PageView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    session_id: str,
    *,
    origin: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["origin"] = origin

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/checkout/{session_id}".format(
            session_id=quote(str(session_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PageView | None:
    if response.status_code == 200:
        response_200 = PageView.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

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
) -> Response[ErrorBody | PageView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    origin: str | Unset = UNSET,
) -> Response[ErrorBody | PageView]:
    """What the hosted page shows of a session: the merchant's name, the amount, the payment's status,
    until when.
    Needs no key: the session id is the payer's.

    Args:
        session_id (str):
        origin (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PageView]
    """

    kwargs = _get_kwargs(
        session_id=session_id,
        origin=origin,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    origin: str | Unset = UNSET,
) -> ErrorBody | PageView | None:
    """What the hosted page shows of a session: the merchant's name, the amount, the payment's status,
    until when.
    Needs no key: the session id is the payer's.

    Args:
        session_id (str):
        origin (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PageView
    """

    return sync_detailed(
        session_id=session_id,
        client=client,
        origin=origin,
    ).parsed


async def asyncio_detailed(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    origin: str | Unset = UNSET,
) -> Response[ErrorBody | PageView]:
    """What the hosted page shows of a session: the merchant's name, the amount, the payment's status,
    until when.
    Needs no key: the session id is the payer's.

    Args:
        session_id (str):
        origin (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PageView]
    """

    kwargs = _get_kwargs(
        session_id=session_id,
        origin=origin,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    origin: str | Unset = UNSET,
) -> ErrorBody | PageView | None:
    """What the hosted page shows of a session: the merchant's name, the amount, the payment's status,
    until when.
    Needs no key: the session id is the payer's.

    Args:
        session_id (str):
        origin (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PageView
    """

    return (
        await asyncio_detailed(
            session_id=session_id,
            client=client,
            origin=origin,
        )
    ).parsed
