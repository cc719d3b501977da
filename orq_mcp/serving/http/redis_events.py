"""The event store in Redis: resumable streams shared by every replica (ORQ_MCP_EVENT_STORE=redis://...).

Each event is one key (its session, stream and message as JSON) and each stream a list of event
ids, both expiring after the TTL; a stream keeps its last `per_stream` events. A client may resume
on a replica other than the one streaming to it: that replica replays from Redis and then follows
the stream (polling) until its answer arrives, or until nothing new came for `idle` seconds (the
streaming replica died, say), when it ends the stream and the client sees an unanswered request.

Redis trouble never stops a stream: the event then simply is not kept (the stream is not resumable).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage, jsonrpc_message_adapter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from orq_mcp.serving.http.resume import EVENT_TTL, MAX_EVENTS_PER_STREAM, current_session_key

logger = logging.getLogger(__name__)

PREFIX = "orq-mcp:"
POLL_INTERVAL = 0.1


class RedisEventStore(EventStore):
    def __init__(
        self, redis: Redis, idle: float, per_stream: int = MAX_EVENTS_PER_STREAM, ttl: float = EVENT_TTL
    ) -> None:
        self._redis = redis
        self._idle = idle
        self._per_stream = per_stream
        self._ttl = int(ttl)

    @classmethod
    def from_url(cls, url: str, idle: float) -> RedisEventStore:
        # Connects lazily, on the first event: a server starts even while Redis is still coming up.
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), idle)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        session = current_session_key()
        event_id = secrets.token_hex(12)
        if session is None:
            return event_id  # outside any session: nothing can resume it
        body = message.model_dump_json(by_alias=True, exclude_unset=True) if message is not None else None
        stream = _stream_key(session, stream_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(_event_key(event_id), json.dumps({"s": session, "t": stream_id, "m": body}), ex=self._ttl)
                pipe.rpush(stream, event_id)
                pipe.ltrim(stream, -self._per_stream, -1)
                pipe.expire(stream, self._ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning(
                "Could not keep a stream event in Redis (%s): that stream is not resumable", type(exc).__name__
            )
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        session = current_session_key()
        try:
            found = await self._after(last_event_id, session)
        except (RedisError, OSError) as exc:
            logger.warning("Could not read stream events from Redis (%s)", type(exc).__name__)
            return None
        if found is None:
            return None
        stream_id, events = found
        for event_id, body in events:
            if body is not None:
                await send_callback(EventMessage(jsonrpc_message_adapter.validate_json(body), event_id))
        return stream_id

    async def follow(self, last_event_id: str, session: str) -> AsyncIterator[bytes]:
        """SSE frames of the stream after `last_event_id`, until its answer or `idle` seconds of silence."""
        cursor, quiet_since = last_event_id, time.monotonic()
        while time.monotonic() - quiet_since < self._idle:
            try:
                found = await self._after(cursor, session)
            except (RedisError, OSError) as exc:
                logger.warning("Could not follow a stream in Redis (%s)", type(exc).__name__)
                return
            if found is None:
                return
            stream_id, events = found
            for event_id, body in events:
                cursor, quiet_since = event_id, time.monotonic()
                if body is None:
                    continue
                yield f"event: message\nid: {event_id}\ndata: {body}\n\n".encode()
                if _answers(json.loads(body), stream_id):
                    return
            await anyio.sleep(POLL_INTERVAL)
        logger.info("A resumed stream stayed silent for %.0f s; ended it unanswered", self._idle)

    async def _after(self, last_event_id: str, session: str | None) -> tuple[StreamId, list[tuple[str, Any]]] | None:
        """The stream of `last_event_id` and its events after it, if that event is the session's own."""
        raw = await self._redis.get(_event_key(last_event_id))
        if raw is None:
            logger.info("A client resumed after an event Redis no longer has (expired)")
            return None
        last = json.loads(raw)
        if session is None or last["s"] != session:
            logger.warning("Refused to replay a stream to a client of another session")
            return None
        listed = await self._redis.lrange(_stream_key(session, last["t"]), 0, -1)  # bytes: decode_responses is off
        ids = [i.decode() if isinstance(i, bytes) else str(i) for i in listed]
        later = ids[ids.index(last_event_id) + 1 :] if last_event_id in ids else []
        bodies = await self._redis.mget([_event_key(i) for i in later]) if later else []
        events = [(i, json.loads(b)["m"]) for i, b in zip(later, bodies, strict=True) if b is not None]
        return last["t"], events


def _answers(message: dict[str, Any], stream_id: str) -> bool:
    return str(message.get("id")) == stream_id and ("result" in message or "error" in message)


def _event_key(event_id: str) -> str:
    return f"{PREFIX}event:{event_id}"


def _stream_key(session: str, stream_id: str) -> str:
    return f"{PREFIX}stream:{session}:{stream_id}"
