import assert from "node:assert/strict";
import { test } from "node:test";

import { buildSocketUrl } from "../gamification/url.js";

const http = { href: "http://example.org:8000/dash", protocol: "http:", host: "example.org:8000" };
const https = { href: "https://conductor.example/", protocol: "https:", host: "conductor.example" };

test("ws:// on http pages, same host and port", () => {
  assert.equal(buildSocketUrl({ location: http }), "ws://example.org:8000/ws/gamification");
});

test("wss:// on https pages", () => {
  assert.equal(buildSocketUrl({ location: https }), "wss://conductor.example/ws/gamification");
});

test("an http(s) target is turned into ws(s); a ws(s) target is kept", () => {
  assert.equal(
    buildSocketUrl({ location: http, target: "https://events.example/ws/gamification" }),
    "wss://events.example/ws/gamification",
  );
  assert.equal(buildSocketUrl({ location: http, target: "ws://127.0.0.1:9/x" }), "ws://127.0.0.1:9/x");
});

test("a clear-text target on the https page's own host is upgraded", () => {
  assert.equal(buildSocketUrl({ location: https, target: "ws://conductor.example/ws/g" }), "wss://conductor.example/ws/g");
});

test("the token goes in ?token=, encoded", () => {
  assert.equal(
    buildSocketUrl({ location: https, token: "a.b+c" }),
    "wss://conductor.example/ws/gamification?token=a.b%2Bc",
  );
});

test("other schemes are refused", () => {
  assert.throws(() => buildSocketUrl({ location: http, target: "ftp://x/y" }), TypeError);
});

test("since (the last event id seen) goes in ?since= beside the token; none when unknown", () => {
  assert.equal(
    buildSocketUrl({ location: http, token: "t", since: 42 }),
    "ws://example.org:8000/ws/gamification?token=t&since=42",
  );
  assert.equal(buildSocketUrl({ location: http, since: 0 }), "ws://example.org:8000/ws/gamification?since=0");
  for (const since of [null, undefined, -1, 1.5, "7"]) {
    assert.equal(buildSocketUrl({ location: http, since }), "ws://example.org:8000/ws/gamification");
  }
});
