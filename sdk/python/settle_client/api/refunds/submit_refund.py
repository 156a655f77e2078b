from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.refund_view import RefundView
from ...models.submit_refund_request import SubmitRefundRequest
from ...types import Response


def _get_kwargs(
    refund_id: str,
    *,
    body: SubmitRefundRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/refunds/{refund_id}/submit".format(
            refund_id=quote(str(refund_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | RefundView | None:
    if response.status_code == 202:
        response_202 = RefundView.from_dict(response.json())

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
) -> Response[ErrorBody | RefundView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    refund_id: str,
    *,
    client: AuthenticatedClient,
    body: SubmitRefundRequest,
) -> Response[ErrorBody | RefundView]:
    """Sends a REQUIRES_ACTION CHAIN refund through Settle's relayer (the merchant pays no gas), with the
    recipient's
    signature of its terms and its signed permit when given. Refused, with nothing changed, when a
    signature is not the
    recipient's or the call would revert; a PENDING refund is answered as it is.

    Args:
        refund_id (str):
        body (SubmitRefundRequest): `POST /v1/refunds/{refundId}/submit`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RefundView]
    """

    kwargs = _get_kwargs(
        refund_id=refund_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    refund_id: str,
    *,
    client: AuthenticatedClient,
    body: SubmitRefundRequest,
) -> ErrorBody | RefundView | None:
    """Sends a REQUIRES_ACTION CHAIN refund through Settle's relayer (the merchant pays no gas), with the
    recipient's
    signature of its terms and its signed permit when given. Refused, with nothing changed, when a
    signature is not the
    recipient's or the call would revert; a PENDING refund is answered as it is.

    Args:
        refund_id (str):
        body (SubmitRefundRequest): `POST /v1/refunds/{refundId}/submit`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RefundView
    """

    return sync_detailed(
        refund_id=refund_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    refund_id: str,
    *,
    client: AuthenticatedClient,
    body: SubmitRefundRequest,
) -> Response[ErrorBody | RefundView]:
    """Sends a REQUIRES_ACTION CHAIN refund through Settle's relayer (the merchant pays no gas), with the
    recipient's
    signature of its terms and its signed permit when given. Refused, with nothing changed, when a
    signature is not the
    recipient's or the call would revert; a PENDING refund is answered as it is.

    Args:
        refund_id (str):
        body (SubmitRefundRequest): `POST /v1/refunds/{refundId}/submit`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RefundView]
    """

    kwargs = _get_kwargs(
        refund_id=refund_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    refund_id: str,
    *,
    client: AuthenticatedClient,
    body: SubmitRefundRequest,
) -> ErrorBody | RefundView | None:
    """Sends a REQUIRES_ACTION CHAIN refund through Settle's relayer (the merchant pays no gas), with the
    recipient's
    signature of its terms and its signed permit when given. Refused, with nothing changed, when a
    signature is not the
    recipient's or the call would revert; a PENDING refund is answered as it is.

    Args:
        refund_id (str):
        body (SubmitRefundRequest): `POST /v1/refunds/{refundId}/submit`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RefundView
    """

    return (
        await asyncio_detailed(
            refund_id=refund_id,
            client=client,
            body=body,
        )
    ).parsed
