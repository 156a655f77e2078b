from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.card_request import CardRequest
from ...models.decline_body import DeclineBody
from ...models.error_body import ErrorBody
from ...models.payment_view import PaymentView
from ...types import UNSET, Response, Unset


def _get_kwargs(
    payment_id: str,
    *,
    body: CardRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/payments/{payment_id}/card".format(
            payment_id=quote(str(payment_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeclineBody | ErrorBody | PaymentView | None:
    if response.status_code == 202:
        response_202 = PaymentView.from_dict(response.json())

        return response_202

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 402:
        response_402 = DeclineBody.from_dict(response.json())

        return response_402

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
) -> Response[DeclineBody | ErrorBody | PaymentView]:
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
    body: CardRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[DeclineBody | ErrorBody | PaymentView]:
    """Pay a CARD payment with a card through the gateway: with the merchant's key, or on the payer's side
    with one of the
    payment's checkout session ids (the hosted page: the merchant's server never sees the card number).

    Args:
        payment_id (str):
        idempotency_key (str | Unset):
        body (CardRequest): `POST /v1/payments/{paymentId}/card`. The card number is checked here
            and sent only to the gateway: Settle
            keeps the card type and the last four digits.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeclineBody | ErrorBody | PaymentView]
    """

    kwargs = _get_kwargs(
        payment_id=payment_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    payment_id: str,
    *,
    client: AuthenticatedClient,
    body: CardRequest,
    idempotency_key: str | Unset = UNSET,
) -> DeclineBody | ErrorBody | PaymentView | None:
    """Pay a CARD payment with a card through the gateway: with the merchant's key, or on the payer's side
    with one of the
    payment's checkout session ids (the hosted page: the merchant's server never sees the card number).

    Args:
        payment_id (str):
        idempotency_key (str | Unset):
        body (CardRequest): `POST /v1/payments/{paymentId}/card`. The card number is checked here
            and sent only to the gateway: Settle
            keeps the card type and the last four digits.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeclineBody | ErrorBody | PaymentView
    """

    return sync_detailed(
        payment_id=payment_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    payment_id: str,
    *,
    client: AuthenticatedClient,
    body: CardRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[DeclineBody | ErrorBody | PaymentView]:
    """Pay a CARD payment with a card through the gateway: with the merchant's key, or on the payer's side
    with one of the
    payment's checkout session ids (the hosted page: the merchant's server never sees the card number).

    Args:
        payment_id (str):
        idempotency_key (str | Unset):
        body (CardRequest): `POST /v1/payments/{paymentId}/card`. The card number is checked here
            and sent only to the gateway: Settle
            keeps the card type and the last four digits.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeclineBody | ErrorBody | PaymentView]
    """

    kwargs = _get_kwargs(
        payment_id=payment_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    payment_id: str,
    *,
    client: AuthenticatedClient,
    body: CardRequest,
    idempotency_key: str | Unset = UNSET,
) -> DeclineBody | ErrorBody | PaymentView | None:
    """Pay a CARD payment with a card through the gateway: with the merchant's key, or on the payer's side
    with one of the
    payment's checkout session ids (the hosted page: the merchant's server never sees the card number).

    Args:
        payment_id (str):
        idempotency_key (str | Unset):
        body (CardRequest): `POST /v1/payments/{paymentId}/card`. The card number is checked here
            and sent only to the gateway: Settle
            keeps the card type and the last four digits.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeclineBody | ErrorBody | PaymentView
    """

    return (
        await asyncio_detailed(
            payment_id=payment_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
