// Pause / Resume / Run now for users allowed to change councilors: the WebSocket control commands
// (docs/protocol.md, "Commands"), shared by the dashboard's rows and the agent page.

import { interpolate, pageGettext } from "../gamification/i18n.js";
import { h } from "./dom.js";

export const COMMANDS = Object.freeze({ pause: "pause_councilor", resume: "resume_councilor", run: "run_councilor" });

/** The buttons for a councilor: Pause or Resume (as it is enabled or not), and Run now. */
export function controlButtons({ enabled, disabled, gettext = pageGettext }) {
  const toggle = enabled ? "pause" : "resume";
  return [
    h("button", { type: "button", class: "button", dataset: { action: toggle }, disabled }, enabled ? gettext("Pause") : gettext("Resume")),
    h("button", { type: "button", class: "button primary", dataset: { action: "run" }, disabled }, gettext("Run now")),
  ];
}

/** Send one control command and say how it went in a toast; `href(executionId)` links a queued run. */
export async function sendControl({ socket, action, councilorId, name, toasts, href = () => null, gettext = pageGettext }) {
  try {
    const reply = await socket.request(COMMANDS[action], { councilor_id: councilorId });
    const templates = {
      pause: gettext("Paused %(name)s"),
      resume: gettext("Resumed %(name)s"),
      run: gettext("Run queued for %(name)s"),
    };
    const what = action === "run" && reply.execution_id ? ` (${reply.execution_id})` : "";
    const link = action === "run" ? href(reply.execution_id) : null;
    toasts.show({ title: interpolate(templates[action], { name }) + what, tone: "info", href: link });
    return reply;
  } catch (error) {
    const templates = { pause: gettext("Could not pause %(name)s"), resume: gettext("Could not resume %(name)s"), run: gettext("Could not run %(name)s") };
    toasts.show({ title: interpolate(templates[action], { name: councilorId }), detail: error.message, tone: "error" });
    return null;
  }
}
