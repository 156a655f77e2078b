from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.typed_data import TypedData
from ...types import UNSET, Response, Unset


def _get_kwargs(
    payment_id: str,
    *,
    payer: str,
    permit_signature: str | Unset = UNSET,
    permit_deadline: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["payer"] = payer

    params["permitSignature"] = permit_signature

    params["permitDeadline"] = permit_deadline

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/payments/{payment_id}/typed-data".format(
            payment_id=quote(str(payment_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | TypedData | None:
    if response.status_code == 200:
        response_200 = TypedData.from_dict(response.json())

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
) -> Response[ErrorBody | TypedData]:
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
    payer: str,
    permit_signature: str | Unset = UNSET,
    permit_deadline: int | Unset = UNSET,
) -> Response[ErrorBody | TypedData]:
    """What a payer signs: the EIP-2612 permit (first), and the forwarder's ForwardRequest, in the form
    `eth_signTypedData_v4` and viem's `signTypedData` take.

    Args:
        payment_id (str):
        payer (str):
        permit_signature (str | Unset):
        permit_deadline (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | TypedData]
    """

    kwargs = _get_kwargs(
        payment_id=payment_id,
        payer=payer,
        permit_signature=permit_signature,
        permit_deadline=permit_deadline,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    payment_id: str,
    *,
    client: AuthenticatedClient,
    payer: str,
    permit_signature: str | Unset = UNSET,
    permit_deadline: int | Unset = UNSET,
) -> ErrorBody | TypedData | None:
    """What a payer signs: the EIP-2612 permit (first), and the forwarder's ForwardRequest, in the form
    `eth_signTypedData_v4` and viem's `signTypedData` take.

    Args:
        payment_id (str):
        payer (str):
        permit_signature (str | Unset):
        permit_deadline (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | TypedData
    """

    return sync_detailed(
        payment_id=payment_id,
        client=client,
        payer=payer,
        permit_signature=permit_signature,
        permit_deadline=permit_deadline,
    ).parsed


async def asyncio_detailed(
    payment_id: str,
    *,
    client: AuthenticatedClient,
    payer: str,
    permit_signature: str | Unset = UNSET,
    permit_deadline: int | Unset = UNSET,
) -> Response[ErrorBody | TypedData]:
    """What a payer signs: the EIP-2612 permit (first), and the forwarder's ForwardRequest, in the form
    `eth_signTypedData_v4` and viem's `signTypedData` take.

    Args:
        payment_id (str):
        payer (str):
        permit_signature (str | Unset):
        permit_deadline (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | TypedData]
    """

    kwargs = _get_kwargs(
        payment_id=payment_id,
        payer=payer,
        permit_signature=permit_signature,
        permit_deadline=permit_deadline,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    payment_id: str,
    *,
    client: AuthenticatedClient,
    payer: str,
    permit_signature: str | Unset = UNSET,
    permit_deadline: int | Unset = UNSET,
) -> ErrorBody | TypedData | None:
    """What a payer signs: the EIP-2612 permit (first), and the forwarder's ForwardRequest, in the form
    `eth_signTypedData_v4` and viem's `signTypedData` take.

    Args:
        payment_id (str):
        payer (str):
        permit_signature (str | Unset):
        permit_deadline (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | TypedData
    """

    return (
        await asyncio_detailed(
            payment_id=payment_id,
            client=client,
            payer=payer,
            permit_signature=permit_signature,
            permit_deadline=permit_deadline,
        )
    ).parsed
