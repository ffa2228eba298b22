"""The reference design rebuilt as a competent Python developer would write it, as a baseline for
bench/peer.ts: FastAPI + uvicorn, one DuckDB file, pydantic models for the messages.

- ``POST /push``: a Pub/Sub push delivery (``{"message": {"data": <base64>, "messageId",
  "publishTime", "attributes"}, "subscription"}``), validated, one INSERT per message (auto-commit),
  ``ON CONFLICT DO NOTHING`` on ``message_id`` (Pub/Sub redelivers).
- ``POST /messages``: a batch in Tributary's publish shape (``{"messages": [{"data": <base64>,
  "attributes"?, "messageId"?}]}``), validated, written with ``executemany`` in one transaction.
- ``GET /rows?from=&device_id=&limit=``: ``SELECT * ... WHERE publish_time >= ? AND device_id = ?
  ORDER BY publish_time DESC LIMIT ?``, parameterised.
- ``GET /aggregate?from=&to=``: one-minute buckets, ``count(*)`` and ``avg(temperature_c)``, the
  same aggregate as Tributary's aggregate benchmark, in SQL.

Endpoints are plain ``def`` (FastAPI runs them in its thread pool, so DuckDB's blocking calls do
not stall the event loop), each on its own cursor of one connection (DuckDB's advice for threads).
One process: DuckDB allows one writer process per file.

Tooling only (the product is TypeScript): started by bench/peer.ts on 127.0.0.1, it exits when
its parent does (see ``_exit_with_parent``).

Usage: python app.py --db <file.duckdb> --port <port>
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import threading
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Optional

import duckdb
import uvicorn
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Optional[float] = None
    lon: Optional[float] = None
    site: Optional[str] = None


class Reading(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: Optional[float] = None
    unit: Optional[str] = None


class SensorReading(BaseModel):
    """streams/sensor_readings.json as a pydantic model (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")
    device_id: str
    seq: int
    temperature_c: Optional[float] = None
    energy_kwh: Optional[Decimal] = None
    ok: Optional[bool] = None
    measured_at: datetime
    calibration_date: Optional[date] = None
    metadata: Optional[Any] = None
    tags: list[str] = Field(default_factory=list)
    location: Optional[Location] = None
    readings: list[Reading] = Field(default_factory=list)


class PushMessage(BaseModel):
    data: str
    messageId: str
    publishTime: datetime
    attributes: dict[str, str] = Field(default_factory=dict)
    orderingKey: Optional[str] = None


class PushBody(BaseModel):
    message: PushMessage
    subscription: str = ""


class PublishMessage(BaseModel):
    data: str
    attributes: dict[str, str] = Field(default_factory=dict)
    messageId: Optional[str] = None


class PublishBody(BaseModel):
    messages: list[PublishMessage]


DDL = """
CREATE TABLE IF NOT EXISTS sensor_readings (
    message_id VARCHAR PRIMARY KEY,
    publish_time TIMESTAMP NOT NULL,
    ingest_time TIMESTAMP NOT NULL,
    attributes JSON,
    ordering_key VARCHAR,
    device_id VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    temperature_c DOUBLE,
    energy_kwh DECIMAL(38, 9),
    ok BOOLEAN,
    measured_at TIMESTAMP NOT NULL,
    calibration_date DATE,
    metadata JSON,
    tags VARCHAR[],
    location STRUCT(lat DOUBLE, lon DOUBLE, site VARCHAR),
    readings STRUCT(name VARCHAR, value DOUBLE, unit VARCHAR)[]
)
"""

COLUMNS = (
    "message_id, publish_time, ingest_time, attributes, ordering_key, device_id, seq, temperature_c, "
    "energy_kwh, ok, measured_at, calibration_date, metadata, tags, location, readings"
)
INSERT = f"INSERT INTO sensor_readings ({COLUMNS}) VALUES ({', '.join('?' * 16)}) ON CONFLICT DO NOTHING"
ROWS = "SELECT * FROM sensor_readings WHERE publish_time >= ? AND device_id = ? ORDER BY publish_time DESC LIMIT ?"
AGGREGATE = (
    "SELECT date_trunc('minute', publish_time) AS bucket, count(*) AS count, avg(temperature_c) AS avg_temperature_c "
    "FROM sensor_readings WHERE publish_time >= ? AND publish_time < ? GROUP BY bucket ORDER BY bucket"
)


def utc_naive(t: datetime) -> datetime:
    """TIMESTAMP columns hold UTC without a zone."""
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def row_values(message_id: str, publish_time: datetime, attributes: dict[str, str], ordering_key: Optional[str], data: str) -> list[Any]:
    """Decodes and validates one message's data; raises HTTPException(400) on bad input."""
    try:
        r = SensorReading.model_validate_json(base64.b64decode(data, validate=True))
    except (ValidationError, binascii.Error, ValueError) as err:
        raise HTTPException(status_code=400, detail=f"invalid message {message_id}: {err}") from err
    return [
        message_id,
        utc_naive(publish_time),
        datetime.now(timezone.utc).replace(tzinfo=None),
        json.dumps(attributes),
        ordering_key,
        r.device_id,
        r.seq,
        r.temperature_c,
        r.energy_kwh,
        r.ok,
        utc_naive(r.measured_at),
        r.calibration_date,
        None if r.metadata is None else json.dumps(r.metadata),
        r.tags,
        None if r.location is None else r.location.model_dump(),
        [x.model_dump() for x in r.readings],
    ]


def create_app(db_path: str) -> FastAPI:
    con = duckdb.connect(db_path)
    con.execute(DDL)
    app = FastAPI(title="reference-design rebuild")

    @app.post("/push")
    def push(body: PushBody) -> dict[str, str]:
        m = body.message
        cur = con.cursor()
        try:
            cur.execute(INSERT, row_values(m.messageId, m.publishTime, m.attributes, m.orderingKey, m.data))
        finally:
            cur.close()
        return {"messageId": m.messageId}

    @app.post("/messages")
    def publish(body: PublishBody) -> dict[str, list[str]]:
        now = datetime.now(timezone.utc)
        ids = [m.messageId or str(uuid.uuid4()) for m in body.messages]
        rows = [row_values(i, now, m.attributes, None, m.data) for i, m in zip(ids, body.messages)]
        cur = con.cursor()
        try:
            cur.begin()
            cur.executemany(INSERT, rows)
            cur.commit()
        except Exception:
            cur.rollback()
            raise
        finally:
            cur.close()
        return {"messageIds": ids}

    @app.get("/rows")
    def rows(
        device_id: str,
        from_: datetime = Query(alias="from"),
        limit: int = Query(default=100, ge=1, le=10_000),
    ) -> dict[str, list[dict[str, Any]]]:
        cur = con.cursor()
        try:
            cur.execute(ROWS, [utc_naive(from_), device_id, limit])
            names = [d[0] for d in cur.description]
            return {"rows": [dict(zip(names, r)) for r in cur.fetchall()]}
        finally:
            cur.close()

    @app.get("/aggregate")
    def aggregate(from_: datetime = Query(alias="from"), to: datetime = Query()) -> dict[str, list[dict[str, Any]]]:
        cur = con.cursor()
        try:
            cur.execute(AGGREGATE, [utc_naive(from_), utc_naive(to)])
            names = [d[0] for d in cur.description]
            return {"rows": [dict(zip(names, r)) for r in cur.fetchall()]}
        finally:
            cur.close()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _exit_with_parent() -> None:
    """The bench kills this process when it ends; this also ends it if the bench dies first."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    uvicorn.run(create_app(a.db), host="127.0.0.1", port=a.port, log_level="warning", access_log=False, backlog=4096)


if __name__ == "__main__":
    main()
