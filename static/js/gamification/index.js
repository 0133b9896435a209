// The gamification client's public surface. One connection per page: every part of the page
// that listens takes the same socket from sharedSocket().

export { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffCeiling, backoffDelay } from "./backoff.js";
export { Emitter } from "./emitter.js";
export { FallbackPoller, POLL_INTERVAL_MS } from "./poller.js";
export { CLOSE_UNAUTHORIZED, CommandError, GamificationSocket, NotConnectedError } from "./socket.js";
export { State } from "./state.js";
export { TICKER_TYPES, formatSeconds, severityLabel, tickerItem } from "./titles.js";
export { gettext_noop, identity, interpolate, pageGettext, pageNgettext } from "./i18n.js";
export { buildSocketUrl } from "./url.js";

import { GamificationSocket } from "./socket.js";

let shared = null;

/** The page's one socket, created and connected on first use; later options are ignored. */
export function sharedSocket(options = {}) {
  if (shared === null) {
    shared = new GamificationSocket(options);
    shared.connect();
  }
  return shared;
}
