from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.stream_events_response_200 import StreamEventsResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    last_event_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/events/stream",
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | StreamEventsResponse200 | None:
    if response.status_code == 200:
        response_200 = StreamEventsResponse200.from_dict(response.text)

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | StreamEventsResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    last_event_id: str | Unset = UNSET,
) -> Response[ErrorBody | StreamEventsResponse200]:
    """Stream the caller's events (`payment.created`, `payment.cancelled`, ...). Each event's SSE id is its
    event id
    (`evt_…`, the `webhook-id` its webhooks carry) and its data the event as `GET /v1/events` lists it.
    `Last-Event-ID` (an event id, or a seq) resumes exactly after that event; an id this database does
    not hold
    (lost to a restore of an older backup) resumes with every event published from a minute before that
    id was made.
    Without it the stream starts with the next event. A comment line is sent as a heartbeat while there
    is nothing
    to send.

    Args:
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StreamEventsResponse200]
    """

    kwargs = _get_kwargs(
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    last_event_id: str | Unset = UNSET,
) -> ErrorBody | StreamEventsResponse200 | None:
    """Stream the caller's events (`payment.created`, `payment.cancelled`, ...). Each event's SSE id is its
    event id
    (`evt_…`, the `webhook-id` its webhooks carry) and its data the event as `GET /v1/events` lists it.
    `Last-Event-ID` (an event id, or a seq) resumes exactly after that event; an id this database does
    not hold
    (lost to a restore of an older backup) resumes with every event published from a minute before that
    id was made.
    Without it the stream starts with the next event. A comment line is sent as a heartbeat while there
    is nothing
    to send.

    Args:
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StreamEventsResponse200
    """

    return sync_detailed(
        client=client,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    last_event_id: str | Unset = UNSET,
) -> Response[ErrorBody | StreamEventsResponse200]:
    """Stream the caller's events (`payment.created`, `payment.cancelled`, ...). Each event's SSE id is its
    event id
    (`evt_…`, the `webhook-id` its webhooks carry) and its data the event as `GET /v1/events` lists it.
    `Last-Event-ID` (an event id, or a seq) resumes exactly after that event; an id this database does
    not hold
    (lost to a restore of an older backup) resumes with every event published from a minute before that
    id was made.
    Without it the stream starts with the next event. A comment line is sent as a heartbeat while there
    is nothing
    to send.

    Args:
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | StreamEventsResponse200]
    """

    kwargs = _get_kwargs(
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    last_event_id: str | Unset = UNSET,
) -> ErrorBody | StreamEventsResponse200 | None:
    """Stream the caller's events (`payment.created`, `payment.cancelled`, ...). Each event's SSE id is its
    event id
    (`evt_…`, the `webhook-id` its webhooks carry) and its data the event as `GET /v1/events` lists it.
    `Last-Event-ID` (an event id, or a seq) resumes exactly after that event; an id this database does
    not hold
    (lost to a restore of an older backup) resumes with every event published from a minute before that
    id was made.
    Without it the stream starts with the next event. A comment line is sent as a heartbeat while there
    is nothing
    to send.

    Args:
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | StreamEventsResponse200
    """

    return (
        await asyncio_detailed(
            client=client,
            last_event_id=last_event_id,
        )
    ).parsed
