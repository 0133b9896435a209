// Where the socket connects: the page's own host by default, `wss://` on https pages.

export const DEFAULT_SOCKET_PATH = "/ws/gamification";

/**
 * The WebSocket URL for `target` (a path such as "/ws/gamification", an http(s):// URL or a
 * ws(s):// URL) seen from a page at `location`; `token` (a JWT) is added as `?token=`, and
 * `since` (the last event id seen, on a reconnect) as `?since=`: the server replays what was
 * missed in the handshake, before any live event.
 */
export function buildSocketUrl({ location, target = DEFAULT_SOCKET_PATH, token = null, since = null }) {
  const url = new URL(target || DEFAULT_SOCKET_PATH, location.href);
  if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol === "http:") url.protocol = "ws:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`a WebSocket URL must be ws(s) or http(s), got ${url.protocol}`);
  }
  // A page served over https must not fall back to a clear-text socket (browsers block it anyway).
  if (location.protocol === "https:" && url.protocol === "ws:" && url.host === location.host) {
    url.protocol = "wss:";
  }
  if (token) url.searchParams.set("token", token);
  if (Number.isInteger(since) && since >= 0) url.searchParams.set("since", String(since));
  return url.toString();
}
