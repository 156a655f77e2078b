from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.refund_typed_data import RefundTypedData
from ...types import Response


def _get_kwargs(
    refund_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/refunds/{refund_id}/typed-data".format(
            refund_id=quote(str(refund_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | RefundTypedData | None:
    if response.status_code == 200:
        response_200 = RefundTypedData.from_dict(response.json())

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
) -> Response[ErrorBody | RefundTypedData]:
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
) -> Response[ErrorBody | RefundTypedData]:
    """What a CHAIN refund waiting on the merchant (REQUIRES_ACTION) needs: the refund's terms for the
    payment's recipient
    to sign (its authorization of this refund), the token's permit when its allowance is short, or the
    gateway
    transaction to send from its own wallet. Each call gives terms with a fresh deadline (24 hours).

    Args:
        refund_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RefundTypedData]
    """

    kwargs = _get_kwargs(
        refund_id=refund_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    refund_id: str,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | RefundTypedData | None:
    """What a CHAIN refund waiting on the merchant (REQUIRES_ACTION) needs: the refund's terms for the
    payment's recipient
    to sign (its authorization of this refund), the token's permit when its allowance is short, or the
    gateway
    transaction to send from its own wallet. Each call gives terms with a fresh deadline (24 hours).

    Args:
        refund_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RefundTypedData
    """

    return sync_detailed(
        refund_id=refund_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    refund_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | RefundTypedData]:
    """What a CHAIN refund waiting on the merchant (REQUIRES_ACTION) needs: the refund's terms for the
    payment's recipient
    to sign (its authorization of this refund), the token's permit when its allowance is short, or the
    gateway
    transaction to send from its own wallet. Each call gives terms with a fresh deadline (24 hours).

    Args:
        refund_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RefundTypedData]
    """

    kwargs = _get_kwargs(
        refund_id=refund_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    refund_id: str,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | RefundTypedData | None:
    """What a CHAIN refund waiting on the merchant (REQUIRES_ACTION) needs: the refund's terms for the
    payment's recipient
    to sign (its authorization of this refund), the token's permit when its allowance is short, or the
    gateway
    transaction to send from its own wallet. Each call gives terms with a fresh deadline (24 hours).

    Args:
        refund_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RefundTypedData
    """

    return (
        await asyncio_detailed(
            refund_id=refund_id,
            client=client,
        )
    ).parsed
