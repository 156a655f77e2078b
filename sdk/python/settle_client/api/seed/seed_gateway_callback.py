from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.callback_ack import CallbackAck
from ...models.callback_request import CallbackRequest
from ...models.error_body import ErrorBody
from ...types import Response


def _get_kwargs(
    *,
    body: CallbackRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/payments/callback",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CallbackAck | ErrorBody | None:
    if response.status_code == 200:
        response_200 = CallbackAck.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

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
) -> Response[CallbackAck | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CallbackRequest,
) -> Response[CallbackAck | ErrorBody]:
    """The card gateway's webhook. Not trusted: Settle confirms the transaction with the gateway before
    applying
    it; repeated and out-of-order callbacks change nothing.

     Seed alias of POST /v1/payments/callback: the same request and answer.

    Args:
        body (CallbackRequest): What the gateway POSTs. Only the transaction key and the order
            (Settle's paymentId) are used: the rest is
            asked of the gateway.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CallbackAck | ErrorBody]
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
    client: AuthenticatedClient | Client,
    body: CallbackRequest,
) -> CallbackAck | ErrorBody | None:
    """The card gateway's webhook. Not trusted: Settle confirms the transaction with the gateway before
    applying
    it; repeated and out-of-order callbacks change nothing.

     Seed alias of POST /v1/payments/callback: the same request and answer.

    Args:
        body (CallbackRequest): What the gateway POSTs. Only the transaction key and the order
            (Settle's paymentId) are used: the rest is
            asked of the gateway.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CallbackAck | ErrorBody
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CallbackRequest,
) -> Response[CallbackAck | ErrorBody]:
    """The card gateway's webhook. Not trusted: Settle confirms the transaction with the gateway before
    applying
    it; repeated and out-of-order callbacks change nothing.

     Seed alias of POST /v1/payments/callback: the same request and answer.

    Args:
        body (CallbackRequest): What the gateway POSTs. Only the transaction key and the order
            (Settle's paymentId) are used: the rest is
            asked of the gateway.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CallbackAck | ErrorBody]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: CallbackRequest,
) -> CallbackAck | ErrorBody | None:
    """The card gateway's webhook. Not trusted: Settle confirms the transaction with the gateway before
    applying
    it; repeated and out-of-order callbacks change nothing.

     Seed alias of POST /v1/payments/callback: the same request and answer.

    Args:
        body (CallbackRequest): What the gateway POSTs. Only the transaction key and the order
            (Settle's paymentId) are used: the rest is
            asked of the gateway.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CallbackAck | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
