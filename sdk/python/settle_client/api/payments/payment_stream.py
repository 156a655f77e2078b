from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.payment_update import PaymentUpdate
from ...types import Response


def _get_kwargs(
    payment_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/payments/{payment_id}/stream".format(
            payment_id=quote(str(payment_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PaymentUpdate | None:
    if response.status_code == 200:
        response_200 = PaymentUpdate.from_dict(response.text)

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
) -> Response[ErrorBody | PaymentUpdate]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    payment_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | PaymentUpdate]:
    """Follow one payment: an event `payment` with the payment as it stands, then one each time it changes,
    until it is
    final (COMPLETED, FAILED, CANCELLED or EXPIRED). With the merchant's key, the payment's
    `clientSecret` or one
    of its checkout sessions' ids (what the payer's page holds: browsers' EventSource sends no header,
    so read it
    with `fetch`). A comment line is sent as a heartbeat while nothing changes.

    Args:
        payment_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentUpdate]
    """

    kwargs = _get_kwargs(
        payment_id=payment_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    payment_id: str,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | PaymentUpdate | None:
    """Follow one payment: an event `payment` with the payment as it stands, then one each time it changes,
    until it is
    final (COMPLETED, FAILED, CANCELLED or EXPIRED). With the merchant's key, the payment's
    `clientSecret` or one
    of its checkout sessions' ids (what the payer's page holds: browsers' EventSource sends no header,
    so read it
    with `fetch`). A comment line is sent as a heartbeat while nothing changes.

    Args:
        payment_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentUpdate
    """

    return sync_detailed(
        payment_id=payment_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    payment_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | PaymentUpdate]:
    """Follow one payment: an event `payment` with the payment as it stands, then one each time it changes,
    until it is
    final (COMPLETED, FAILED, CANCELLED or EXPIRED). With the merchant's key, the payment's
    `clientSecret` or one
    of its checkout sessions' ids (what the payer's page holds: browsers' EventSource sends no header,
    so read it
    with `fetch`). A comment line is sent as a heartbeat while nothing changes.

    Args:
        payment_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentUpdate]
    """

    kwargs = _get_kwargs(
        payment_id=payment_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    payment_id: str,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | PaymentUpdate | None:
    """Follow one payment: an event `payment` with the payment as it stands, then one each time it changes,
    until it is
    final (COMPLETED, FAILED, CANCELLED or EXPIRED). With the merchant's key, the payment's
    `clientSecret` or one
    of its checkout sessions' ids (what the payer's page holds: browsers' EventSource sends no header,
    so read it
    with `fetch`). A comment line is sent as a heartbeat while nothing changes.

    Args:
        payment_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentUpdate
    """

    return (
        await asyncio_detailed(
            payment_id=payment_id,
            client=client,
        )
    ).parsed
