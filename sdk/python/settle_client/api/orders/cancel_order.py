from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.cancel_order_request import CancelOrderRequest
from ...models.cancellation_view import CancellationView
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    order_id: str,
    *,
    body: CancelOrderRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/orders/{order_id}/cancel".format(
            order_id=quote(str(order_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CancellationView | ErrorBody | None:
    if response.status_code == 200:
        response_200 = CancellationView.from_dict(response.json())

        return response_200

    if response.status_code == 202:
        response_202 = CancellationView.from_dict(response.json())

        return response_202

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
) -> Response[CancellationView | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    order_id: str,
    *,
    client: AuthenticatedClient,
    body: CancelOrderRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[CancellationView | ErrorBody]:
    """Cancel a PAID order, whole or some of its lines (a partial order refund): its card part refunded
    through the
    gateway, then its points, stock and (with its last lines) coupon given back, in the refund's
    transaction. Several
    cancellations of one order are allowed; together they never give back more than it was paid with.

    Args:
        order_id (str):
        idempotency_key (str | Unset):
        body (CancelOrderRequest): `POST /v1/orders/{orderId}/cancel` (an empty body cancels every
            line not yet cancelled).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CancellationView | ErrorBody]
    """

    kwargs = _get_kwargs(
        order_id=order_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    order_id: str,
    *,
    client: AuthenticatedClient,
    body: CancelOrderRequest,
    idempotency_key: str | Unset = UNSET,
) -> CancellationView | ErrorBody | None:
    """Cancel a PAID order, whole or some of its lines (a partial order refund): its card part refunded
    through the
    gateway, then its points, stock and (with its last lines) coupon given back, in the refund's
    transaction. Several
    cancellations of one order are allowed; together they never give back more than it was paid with.

    Args:
        order_id (str):
        idempotency_key (str | Unset):
        body (CancelOrderRequest): `POST /v1/orders/{orderId}/cancel` (an empty body cancels every
            line not yet cancelled).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CancellationView | ErrorBody
    """

    return sync_detailed(
        order_id=order_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    order_id: str,
    *,
    client: AuthenticatedClient,
    body: CancelOrderRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[CancellationView | ErrorBody]:
    """Cancel a PAID order, whole or some of its lines (a partial order refund): its card part refunded
    through the
    gateway, then its points, stock and (with its last lines) coupon given back, in the refund's
    transaction. Several
    cancellations of one order are allowed; together they never give back more than it was paid with.

    Args:
        order_id (str):
        idempotency_key (str | Unset):
        body (CancelOrderRequest): `POST /v1/orders/{orderId}/cancel` (an empty body cancels every
            line not yet cancelled).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CancellationView | ErrorBody]
    """

    kwargs = _get_kwargs(
        order_id=order_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    order_id: str,
    *,
    client: AuthenticatedClient,
    body: CancelOrderRequest,
    idempotency_key: str | Unset = UNSET,
) -> CancellationView | ErrorBody | None:
    """Cancel a PAID order, whole or some of its lines (a partial order refund): its card part refunded
    through the
    gateway, then its points, stock and (with its last lines) coupon given back, in the refund's
    transaction. Several
    cancellations of one order are allowed; together they never give back more than it was paid with.

    Args:
        order_id (str):
        idempotency_key (str | Unset):
        body (CancelOrderRequest): `POST /v1/orders/{orderId}/cancel` (an empty body cancels every
            line not yet cancelled).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CancellationView | ErrorBody
    """

    return (
        await asyncio_detailed(
            order_id=order_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
