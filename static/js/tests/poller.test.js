import assert from "node:assert/strict";
import { test } from "node:test";

import { FallbackPoller, POLL_INTERVAL_MS } from "../gamification/poller.js";
import { GamificationSocket } from "../gamification/socket.js";
import { FakeTimers, LOCATION, envelope, fakeWebSocketClass, quietLogger } from "./fakes.js";

const METRICS = { "agent-1": { total_executions: 3 } };

function setup({ intervalMs } = {}) {
  const { FakeWebSocket, instances } = fakeWebSocketClass();
  const timers = new FakeTimers();
  const logger = quietLogger();
  const socket = new GamificationSocket({ location: LOCATION, WebSocketImpl: FakeWebSocket, timers, logger });
  const fetched = [];
  const received = [];
  const fetchImpl = async (url) => {
    fetched.push(url);
    return { ok: true, json: async () => METRICS };
  };
  const poller = new FallbackPoller({
    socket,
    url: "/api/agents/metrics",
    intervalMs,
    onData: (data) => received.push(data),
    fetchImpl,
    timers,
    logger,
  }).start();
  const open = (ws) => {
    ws.serverOpen();
    ws.serverSend(envelope("connected", { client_id: "c", last_id: 0 }));
  };
  return { socket, poller, instances, timers, fetched, received, open };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

test("polls every 30 s by default, only while the socket is down", async () => {
  assert.equal(POLL_INTERVAL_MS, 30000);
  const { socket, poller, instances, timers, fetched, received, open } = setup();
  socket.connect();
  open(instances[0]);
  timers.advance(120000);
  assert.deepEqual(fetched, [], "no polling while connected");

  instances[0].serverClose(1006);
  assert.ok(poller.isPolling());
  // Keep the gateway down: every retry fails at once.
  const failRetries = () => instances.at(-1).readyState === 0 && instances.at(-1).serverClose(1006);
  for (let second = 0; second < 61; second += 1) {
    timers.advance(1000);
    failRetries();
    await flush();
  }
  assert.equal(fetched.length, 2, "one poll per 30 s");
  assert.deepEqual(received, [METRICS, METRICS]);

  while (instances.at(-1).readyState !== 0) timers.advance(100); // the next try
  open(instances.at(-1));
  assert.ok(!poller.isPolling(), "polling stops when the socket is back");
  timers.advance(120000);
  assert.equal(fetched.length, 2);
});

test("the interval is configurable, and an intentional close does not poll", async () => {
  const { socket, poller, instances, timers, fetched, open } = setup({ intervalMs: 1000 });
  socket.connect();
  open(instances[0]);
  instances[0].serverClose(1006);
  timers.advance(1000);
  await flush();
  assert.equal(fetched.length, 1);
  socket.disconnect();
  assert.ok(!poller.isPolling());
  timers.advance(10000);
  assert.equal(fetched.length, 1);
});

test("a failing poll is reported and polling goes on", async () => {
  const timers = new FakeTimers();
  const { FakeWebSocket, instances } = fakeWebSocketClass();
  const socket = new GamificationSocket({ location: LOCATION, WebSocketImpl: FakeWebSocket, timers, logger: quietLogger() });
  const errors = [];
  let calls = 0;
  new FallbackPoller({
    socket,
    url: "/m",
    intervalMs: 1000,
    onData: () => {},
    onError: (error) => errors.push(error.message),
    fetchImpl: async () => {
      calls += 1;
      return { ok: false, status: 503 };
    },
    timers,
    logger: quietLogger(),
  }).start();
  socket.connect();
  instances[0].serverClose(1006);
  timers.advance(1000);
  await flush();
  timers.advance(1000);
  await flush();
  assert.equal(calls, 2);
  assert.deepEqual(errors, ["/m answered 503", "/m answered 503"]);
});
