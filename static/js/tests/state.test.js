import assert from "node:assert/strict";
import { test } from "node:test";

import { Input, State, isDown, shouldRetry, transition } from "../gamification/state.js";

test("the happy path: idle → connecting → open", () => {
  assert.equal(transition(State.IDLE, Input.CONNECT), State.CONNECTING);
  assert.equal(transition(State.CONNECTING, Input.OPENED), State.OPEN);
});

test("an unexpected loss reconnects; failed tries stay reconnecting; success opens", () => {
  assert.equal(transition(State.OPEN, Input.LOST), State.RECONNECTING);
  assert.equal(transition(State.RECONNECTING, Input.LOST), State.RECONNECTING);
  assert.equal(transition(State.RECONNECTING, Input.OPENED), State.OPEN);
  assert.ok(shouldRetry(State.RECONNECTING));
  assert.ok(isDown(State.RECONNECTING));
});

test("an intentional close is final until connect", () => {
  for (const state of Object.values(State)) assert.equal(transition(state, Input.CLOSE), State.CLOSED);
  assert.throws(() => transition(State.CLOSED, Input.OPENED));
  assert.throws(() => transition(State.CLOSED, Input.LOST));
  assert.ok(!shouldRetry(State.CLOSED));
  assert.ok(!isDown(State.CLOSED));
  assert.equal(transition(State.CLOSED, Input.CONNECT), State.CONNECTING);
});

test("refused (4401) stops retrying and polling", () => {
  assert.equal(transition(State.OPEN, Input.REFUSED), State.UNAUTHORIZED);
  assert.ok(!shouldRetry(State.UNAUTHORIZED));
  assert.ok(!isDown(State.UNAUTHORIZED));
  assert.throws(() => transition(State.UNAUTHORIZED, Input.LOST));
});

test("impossible changes throw, naming the state and input", () => {
  assert.throws(() => transition(State.IDLE, Input.OPENED), /no "opened" from "idle"/);
  assert.throws(() => transition("nonsense", Input.CONNECT));
});
