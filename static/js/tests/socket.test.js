import assert from "node:assert/strict";
import { test } from "node:test";

import { BACKOFF_CAP_MS } from "../gamification/backoff.js";
import { CLOSE_UNAUTHORIZED, CommandError, GamificationSocket, NotConnectedError } from "../gamification/socket.js";
import { FakeTimers, LOCATION, envelope, fakeWebSocketClass, quietLogger } from "./fakes.js";

function setup({ random = () => 0.5, ...options } = {}) {
  const { FakeWebSocket, instances } = fakeWebSocketClass();
  const timers = new FakeTimers();
  const logger = quietLogger();
  const socket = new GamificationSocket({
    location: LOCATION,
    WebSocketImpl: FakeWebSocket,
    timers,
    random,
    logger,
    ...options,
  });
  const states = [];
  socket.events.on("state", ({ state }) => states.push(state));
  const connectAs = (ws, lastId = 0) => {
    ws.serverOpen();
    ws.serverSend(envelope("connected", { message: "Connected", client_id: "c1", last_id: lastId }));
  };
  return { socket, instances, timers, logger, states, connectAs };
}

test("connects to ws:// on the page's host and reports the state", () => {
  const { socket, instances, states, connectAs } = setup();
  assert.equal(socket.getConnectionState(), "idle");
  socket.connect();
  assert.equal(instances[0].url, "ws://127.0.0.1:5006/ws/gamification");
  assert.equal(socket.getConnectionState(), "connecting");
  assert.equal(socket.isConnected(), false);
  connectAs(instances[0], 41);
  assert.equal(socket.isConnected(), true);
  assert.equal(socket.clientId, "c1");
  assert.equal(socket.lastEventId, 41);
  assert.deepEqual(states, ["connecting", "open"]);
  socket.connect();
  assert.equal(instances.length, 1, "connect() on an open socket opens no second connection");
});

test("events reach subscribers by type and as 'message'; unsubscribe works", () => {
  const { socket, instances, connectAs } = setup();
  socket.connect();
  connectAs(instances[0]);
  const typed = [];
  const all = [];
  const off = socket.events.on("system_alert", (e) => typed.push(e.data.message));
  socket.events.on("message", (e) => all.push(e.type));
  instances[0].serverSend(envelope("system_alert", { message: "one" }, 1));
  off();
  instances[0].serverSend(envelope("system_alert", { message: "two" }, 2));
  assert.deepEqual(typed, ["one"]);
  assert.deepEqual(all, ["system_alert", "system_alert"]);
});

test("an unexpected close retries with full-jitter backoff, never more than 5 s apart", () => {
  const { socket, instances, timers, states, connectAs } = setup({ random: () => 0.999 });
  socket.connect();
  connectAs(instances[0]);
  const waits = [];
  for (let i = 0; i < 8; i += 1) {
    instances.at(-1).serverClose(1006);
    assert.equal(socket.getConnectionState(), "reconnecting");
    const [wait] = timers.pending();
    waits.push(wait);
    timers.advance(wait);
  }
  assert.deepEqual(waits, [499, 999, 1998, 3996, 4995, 4995, 4995, 4995]);
  assert.ok(waits.every((w) => w < BACKOFF_CAP_MS));
  assert.equal(instances.length, 9);
  connectAs(instances.at(-1));
  assert.equal(socket.getConnectionState(), "open");
  instances.at(-1).serverClose(1011);
  assert.deepEqual(timers.pending(), [499], "a successful connection resets the backoff");
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "open", "reconnecting"]);
});

test("disconnect() closes on purpose and never reconnects", () => {
  const { socket, instances, timers, connectAs } = setup();
  socket.connect();
  connectAs(instances[0]);
  socket.disconnect();
  assert.deepEqual(instances[0].closedWith, { code: 1000, reason: "client disconnect" });
  assert.equal(socket.getConnectionState(), "closed");
  instances[0].serverClose(1000); // the close event that follows
  timers.advance(60000);
  assert.equal(instances.length, 1);
  assert.deepEqual(timers.pending(), []);
});

test("disconnect() while waiting to retry cancels the retry", () => {
  const { socket, instances, timers, connectAs } = setup();
  socket.connect();
  connectAs(instances[0]);
  instances[0].serverClose(1006);
  socket.disconnect();
  timers.advance(60000);
  assert.equal(instances.length, 1);
});

test("reconnect() connects again at once, also after disconnect()", () => {
  const { socket, instances, connectAs } = setup();
  socket.connect();
  connectAs(instances[0]);
  socket.disconnect();
  socket.reconnect();
  assert.equal(instances.length, 2);
  assert.equal(socket.getConnectionState(), "connecting");
  instances[0].serverClose(1000); // a late close of the old socket changes nothing
  assert.equal(socket.getConnectionState(), "connecting");
  connectAs(instances[1]);
  assert.equal(socket.isConnected(), true);
});

test("4401 Unauthorized stops retrying", () => {
  const { socket, instances, timers } = setup();
  socket.connect();
  instances[0].serverOpen();
  instances[0].serverClose(CLOSE_UNAUTHORIZED);
  assert.equal(socket.getConnectionState(), "unauthorized");
  timers.advance(60000);
  assert.equal(instances.length, 1);
});

test("after a reconnect it resumes from the last id and drops what it has seen", () => {
  const { socket, instances, timers, connectAs } = setup();
  const seen = [];
  socket.events.on("system_alert", (e) => seen.push(e.id));
  socket.connect();
  connectAs(instances[0], 10);
  instances[0].serverSend(envelope("system_alert", {}, 11));
  instances[0].serverSend(envelope("system_alert", {}, 12));
  instances[0].serverClose(1006);
  timers.advance(BACKOFF_CAP_MS);
  const second = instances[1];
  connectAs(second, 15);
  const resume = second.sent.find((c) => c.command === "resume");
  assert.equal(resume.since, 12);
  for (const id of [12, 13, 14, 15]) second.serverSend(envelope("system_alert", {}, id)); // overlap on 12
  second.serverSend(envelope("resumed", { since: 12, replayed: 3, complete: true, request_id: resume.request_id }));
  second.serverSend(envelope("system_alert", {}, 15)); // a live copy of a replayed one
  second.serverSend(envelope("system_alert", {}, 16));
  assert.deepEqual(seen, [11, 12, 13, 14, 15, 16]);
  assert.equal(socket.lastEventId, 16);
});

test("a fresh page does not replay history; an incomplete resume asks for a resync", () => {
  const { socket, instances, timers, connectAs } = setup();
  const resyncs = [];
  socket.events.on("resync", (r) => resyncs.push(r.reason));
  socket.connect();
  connectAs(instances[0], 500);
  assert.equal(instances[0].sent.length, 0, "no resume on the first connection");
  instances[0].serverClose(1006);
  timers.advance(BACKOFF_CAP_MS);
  connectAs(instances[1], 3000);
  const resume = instances[1].sent.find((c) => c.command === "resume");
  instances[1].serverSend(envelope("resumed", { since: 500, replayed: 0, complete: false, request_id: resume.request_id }));
  assert.deepEqual(resyncs, ["gap"]);
});

test("ids that went backwards (history wiped) reset the last id and ask for a resync", () => {
  const { socket, instances, timers, connectAs } = setup();
  const resyncs = [];
  const seen = [];
  socket.events.on("resync", (r) => resyncs.push(r.reason));
  socket.events.on("system_alert", (e) => seen.push(e.id));
  socket.connect();
  connectAs(instances[0], 900);
  instances[0].serverClose(1006);
  timers.advance(BACKOFF_CAP_MS);
  connectAs(instances[1], 2);
  instances[1].serverSend(envelope("system_alert", {}, 3));
  assert.deepEqual(resyncs, ["reset"]);
  assert.deepEqual(seen, [3]);
});

test("a server without resume (error reply) leads to a resync", async () => {
  const { socket, instances, timers, connectAs } = setup();
  const resyncs = [];
  socket.events.on("resync", (r) => resyncs.push(r.reason));
  socket.connect();
  connectAs(instances[0], 1);
  instances[0].serverClose(1006);
  timers.advance(BACKOFF_CAP_MS);
  connectAs(instances[1], 1);
  const resume = instances[1].sent.find((c) => c.command === "resume");
  instances[1].serverSend(envelope("error", { code: "unknown_command", message: "no", request_id: resume.request_id }));
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(resyncs, ["resume-failed"]);
});

test("ping, getStats and subscribe resolve with the reply that echoes their request_id", async () => {
  const { socket, instances, connectAs } = setup();
  socket.connect();
  const ws = instances[0];
  connectAs(ws);
  const pong = socket.ping();
  const stats = socket.getStats();
  const subscribed = socket.subscribe(["councilor_started"]);
  const [ping, getStats, subscribe] = ws.sent;
  assert.equal(ping.command, "ping");
  assert.equal(getStats.command, "get_stats");
  assert.deepEqual(subscribe.topics, ["councilor_started"]);
  ws.serverSend(envelope("stats", { active_connections: 3, request_id: getStats.request_id }));
  ws.serverSend(envelope("pong", { timestamp: 5, request_id: ping.request_id }));
  ws.serverSend(envelope("subscribed", { topics: ["councilor_started"], request_id: subscribe.request_id }));
  assert.equal((await pong).timestamp, 5);
  assert.equal((await stats).active_connections, 3);
  assert.deepEqual((await subscribed).topics, ["councilor_started"]);
});

test("an error reply rejects with its code; a request while down rejects at once", async () => {
  const { socket, instances, connectAs } = setup();
  await assert.rejects(socket.ping(), NotConnectedError);
  socket.connect();
  connectAs(instances[0]);
  const paused = socket.request("pause_councilor", { councilor_id: "x" });
  const sent = instances[0].sent[0];
  instances[0].serverSend(envelope("error", { code: "forbidden", message: "nope", request_id: sent.request_id }));
  await assert.rejects(paused, (error) => error instanceof CommandError && error.code === "forbidden");
});

test("pending requests fail when the connection drops; topics are sent again after a reconnect", async () => {
  const { socket, instances, timers, connectAs } = setup();
  socket.connect();
  connectAs(instances[0]);
  socket.subscribe(["system_alert"]).catch(() => {});
  const stats = socket.getStats();
  instances[0].serverClose(1006);
  await assert.rejects(stats, NotConnectedError);
  timers.advance(BACKOFF_CAP_MS);
  connectAs(instances[1], 0);
  const commands = instances[1].sent.map((c) => c.command);
  assert.deepEqual(commands, ["subscribe", "resume"], "topics first, so the replay covers them");
  assert.deepEqual(instances[1].sent[0].topics, ["system_alert"]);
});

test("connection changes are logged; bad frames are ignored", () => {
  const { socket, instances, logger, connectAs } = setup();
  socket.connect();
  connectAs(instances[0]);
  instances[0].serverSend("not json");
  instances[0].serverClose(1006);
  assert.ok(logger.lines.includes("[gamification] connection idle → connecting"));
  assert.ok(logger.lines.includes("[gamification] connection connecting → open"));
  assert.ok(logger.lines.includes("[gamification] connection open → reconnecting (code 1006)"));
  assert.ok(logger.lines.some((line) => line.startsWith("[gamification] ignored a message that is not JSON")));
});

test("a listener that throws does not stop the others", () => {
  const { socket, instances, connectAs } = setup();
  socket.connect();
  connectAs(instances[0]);
  const got = [];
  socket.events.on("system_alert", () => {
    throw new Error("boom");
  });
  socket.events.on("system_alert", (e) => got.push(e.id));
  instances[0].serverSend(envelope("system_alert", {}, 1));
  assert.deepEqual(got, [1]);
});

// Resume in the handshake (?since=) -------------------------------------------------------------

function reconnectWithSince(setupResult, lastSeen) {
  const { socket, instances, timers, connectAs } = setupResult;
  socket.connect();
  connectAs(instances[0], lastSeen - 1);
  instances[0].serverSend(envelope("system_alert", {}, lastSeen));
  instances[0].serverClose(1006);
  timers.advance(BACKOFF_CAP_MS);
  return instances[1];
}

test("the first connection has no since; a reconnect carries the last id seen in the URL", () => {
  const result = setup();
  const second = reconnectWithSince(result, 12);
  assert.equal(result.instances[0].url, "ws://127.0.0.1:5006/ws/gamification");
  assert.equal(second.url, "ws://127.0.0.1:5006/ws/gamification?since=12");
});

test("a gateway that resumed in the handshake gets no resume command; its replay is shown once", () => {
  const result = setup();
  const seen = [];
  result.socket.events.on("system_alert", (e) => seen.push(e.id));
  const second = reconnectWithSince(result, 12);
  second.serverOpen();
  second.serverSend(envelope("connected", { client_id: "c2", last_id: 14, replayed: 2, complete: true }));
  for (const id of [13, 14, 14, 15]) second.serverSend(envelope("system_alert", {}, id)); // 14 twice: overlap
  assert.deepEqual(second.sent.map((c) => c.command), [], "nothing to ask: the replay came with the handshake");
  assert.deepEqual(seen, [12, 13, 14, 15]);
  assert.equal(result.socket.lastEventId, 15);
});

test("an incomplete resume in the handshake asks for a resync from the since it sent", () => {
  const result = setup();
  const resyncs = [];
  result.socket.events.on("resync", (r) => resyncs.push(r));
  const second = reconnectWithSince(result, 40);
  second.serverOpen();
  second.serverSend(envelope("connected", { client_id: "c2", last_id: 3000, replayed: 0, complete: false }));
  assert.deepEqual(resyncs, [{ reason: "gap", since: 40 }]);
});

test("with topics chosen, a handshake replay of other types is not shown but still counts as seen", () => {
  const result = setup({ topics: ["councilor_started"] });
  const shown = [];
  result.socket.events.on("message", (e) => e.id !== null && shown.push(`${e.type}:${e.id}`));
  const second = reconnectWithSince(result, 5);
  shown.length = 0;
  second.serverOpen();
  second.serverSend(envelope("connected", { client_id: "c2", last_id: 8, replayed: 3, complete: true }));
  second.serverSend(envelope("system_alert", {}, 6));
  second.serverSend(envelope("councilor_started", {}, 7));
  second.serverSend(envelope("system_alert", {}, 8));
  assert.deepEqual(shown, ["councilor_started:7"]);
  assert.equal(result.socket.lastEventId, 8);
  assert.equal(second.sent[0].command, "subscribe");
});
