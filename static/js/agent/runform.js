// "Run it": the form posts to the HTTP API's execute (docs/http-api.md) with the session and the
// CSRF token, as any client does, so validation and rate limiting answer with the API's own JSON
// errors, shown in the form. A queued run opens its run page, which streams its output.

import { gettext_noop, interpolate, pageGettext } from "../gamification/i18n.js";

// Refusals the page words itself, in its language: the API's own text for them is for programs.
const REFUSALS = {
  401: gettext_noop("Your session has ended: log in again, then run it."),
  403: gettext_noop("Not allowed: running agents needs the councilors.run_agent permission (or reload the page if it has been open a long time)."),
  404: gettext_noop("This agent is not available through the API, or no longer exists."),
};

/** The message to show for an error answer of the API (`{detail, code, errors?}`). */
export function errorMessage(status, body, retryAfter, gettext = pageGettext) {
  if (REFUSALS[status]) return gettext(REFUSALS[status]);
  if (status === 429) {
    const limit = gettext("Too many runs asked for: the rate limit is reached.");
    return retryAfter ? `${limit} ${interpolate(gettext("Try again in %(seconds)s s."), { seconds: retryAfter })}` : limit;
  }
  // Each message names its field already, in the page's language (infrastructure/api_errors.py).
  const messages = Array.isArray(body?.errors) ? body.errors.map((error) => error.message).filter(Boolean) : [];
  if (messages.length) return messages.join(" ");
  return body?.detail || interpolate(gettext("The server answered %(status)s."), { status });
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export function mountRunForm(form, { executeUrl, runHref, gettext = pageGettext, navigate = (url) => window.location.assign(url) }) {
  const message = form.querySelector("#run-form-message");
  const submit = form.querySelector("button[type=submit]");

  function say(text, tone) {
    message.textContent = text;
    message.dataset.tone = tone;
    message.hidden = !text;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const prompt = form.elements.prompt.value;
    const instanceId = form.elements.instance_id.value.trim();
    submit.disabled = true;
    say(gettext("Queueing…"), "info");
    try {
      const response = await fetch(executeUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(instanceId ? { prompt, instance_id: instanceId } : { prompt }),
      });
      const body = await response.json().catch(() => null);
      if (response.status === 202 && body?.execution_id) {
        say(gettext("Queued: opening its page…"), "info");
        navigate(runHref(body.execution_id));
        return;
      }
      say(errorMessage(response.status, body, response.headers.get("Retry-After"), gettext), "error");
    } catch (error) {
      say(interpolate(gettext("Could not reach the server: %(error)s"), { error: error.message }), "error");
    } finally {
      submit.disabled = false;
    }
  });
}
