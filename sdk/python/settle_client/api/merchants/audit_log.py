from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.audit_page import AuditPage
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    action: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    starting_after: str | Unset = UNSET,
    ending_before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["action"] = action

    params["targetId"] = target_id

    params["startingAfter"] = starting_after

    params["endingBefore"] = ending_before

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/audit-log",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AuditPage | ErrorBody | None:
    if response.status_code == 200:
        response_200 = AuditPage.from_dict(response.json())

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
) -> Response[AuditPage | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    starting_after: str | Unset = UNSET,
    ending_before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[AuditPage | ErrorBody]:
    """The merchant's audit log, newest first: every change its API keys, the admin or the CLI made to its
    data, with
    who, from where, the request id and what changed. Append-only: no route changes or deletes an entry.

    Args:
        action (str | Unset):
        target_id (str | Unset):
        starting_after (str | Unset):
        ending_before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        action=action,
        target_id=target_id,
        starting_after=starting_after,
        ending_before=ending_before,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    starting_after: str | Unset = UNSET,
    ending_before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> AuditPage | ErrorBody | None:
    """The merchant's audit log, newest first: every change its API keys, the admin or the CLI made to its
    data, with
    who, from where, the request id and what changed. Append-only: no route changes or deletes an entry.

    Args:
        action (str | Unset):
        target_id (str | Unset):
        starting_after (str | Unset):
        ending_before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditPage | ErrorBody
    """

    return sync_detailed(
        client=client,
        action=action,
        target_id=target_id,
        starting_after=starting_after,
        ending_before=ending_before,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    starting_after: str | Unset = UNSET,
    ending_before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[AuditPage | ErrorBody]:
    """The merchant's audit log, newest first: every change its API keys, the admin or the CLI made to its
    data, with
    who, from where, the request id and what changed. Append-only: no route changes or deletes an entry.

    Args:
        action (str | Unset):
        target_id (str | Unset):
        starting_after (str | Unset):
        ending_before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditPage | ErrorBody]
    """

    kwargs = _get_kwargs(
        action=action,
        target_id=target_id,
        starting_after=starting_after,
        ending_before=ending_before,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    action: str | Unset = UNSET,
    target_id: str | Unset = UNSET,
    starting_after: str | Unset = UNSET,
    ending_before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> AuditPage | ErrorBody | None:
    """The merchant's audit log, newest first: every change its API keys, the admin or the CLI made to its
    data, with
    who, from where, the request id and what changed. Append-only: no route changes or deletes an entry.

    Args:
        action (str | Unset):
        target_id (str | Unset):
        starting_after (str | Unset):
        ending_before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditPage | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            action=action,
            target_id=target_id,
            starting_after=starting_after,
            ending_before=ending_before,
            limit=limit,
        )
    ).parsed
