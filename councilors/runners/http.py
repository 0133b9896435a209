"""POSTs the prompt to an AI-agent service and returns its `result` (or the whole body), bounded.

The service is trusted with the prompt, not with anything else: redirects are followed only within
the configured URL's origin (scheme, host, port; a few at most), at most
COUNCILORS_HTTP_MAX_RESPONSE_BYTES of the answer are read, and the URL appears in errors (which are
stored and broadcast in events) without its credentials and query string. Credentials in the URL
(`https://user:pass@host/…`) are sent as HTTP Basic authentication.
"""

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.client import HTTPResponse
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop

from councilors.app_settings import app_settings
from councilors.runners.base import OutputCallback, RunCancelled, RunControl, Runner, RunnerError, RunTimedOut
from councilors.runners.bounded import BoundedOutput

# Settings errors, in the admin's language when raised; the run errors below are recorded in English
# (councilors/run_errors.py words them for each reader).
URL_INVALID = gettext_noop("url must be an http:// or https:// address.")
HEADERS_INVALID = gettext_noop("headers must be an object of string names to string values.")
ERROR_BODY_LIMIT = 500
MAX_REDIRECTS = 3
READ_CHUNK_BYTES = 65_536
# How often a request in flight looks at its stop request: a cancel takes effect within this.
STOP_POLL_S = 0.1
REDACTED = "[redacted]"
DEFAULT_PORTS = {"http": 80, "https": 443}
HTTP_ERROR = "HTTP %(status)d from %(url)s"
REQUEST_FAILED = "request to %(url)s failed: %(reason)s"
REDIRECT_REFUSED = "redirect from %(origin)s to another origin (%(target)s) refused"
TOO_MANY_REDIRECTS = "more than %(limit)d redirects from %(url)s"
RESPONSE_TOO_LARGE = "response from %(url)s is larger than %(limit)d bytes (COUNCILORS_HTTP_MAX_RESPONSE_BYTES)"


def redact_url(url: str) -> str:
    """`url` without secrets: credentials and the query string are replaced, the fragment dropped."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{REDACTED}@{host}" if "@" in parts.netloc else host
    return urlunsplit((parts.scheme, netloc, parts.path, REDACTED if parts.query else "", ""))


def url_origin(url: str) -> str:
    """scheme://host:port of `url`, the port made explicit, so that two spellings of one origin compare equal."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


class RedirectRefused(urllib.error.URLError):
    """The service answered with a redirect the runner does not follow."""


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a few redirects within the request's origin, re-sending the POST on 307/308; refuses the rest."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        if url_origin(newurl) != url_origin(req.full_url):
            fp.close()
            origins = {"origin": url_origin(req.full_url), "target": url_origin(newurl)}
            raise RedirectRefused(REDIRECT_REFUSED % origins)
        if code in (307, 308):
            return urllib.request.Request(
                newurl, data=req.data, headers=dict(req.headers), method=req.get_method(), unverifiable=True
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _without_credentials(url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The URL without user:pass@, which goes into an Authorization header instead (unless one is set)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, headers
    host = parts.netloc.rpartition("@")[2]
    if not any(name.lower() == "authorization" for name in headers):
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers = {**headers, "Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), headers


def _read_capped(response: HTTPResponse, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` (never more than limit + one chunk is read)."""
    chunks, size = [], 0
    while size <= limit and (chunk := response.read(min(READ_CHUNK_BYTES, limit + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


class HttpRunner(Runner):
    """POST {agent_id, prompt, instance_id, context_files} as JSON; a non-2xx answer fails."""

    name = "http"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        super().validate_config(config)
        url = config.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValidationError({"runner_config": gettext(URL_INVALID)})
        headers = config.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ValidationError({"runner_config": gettext(HEADERS_INVALID)})

    def run(
        self,
        prompt: str,
        context: dict[str, Any],
        on_output: OutputCallback | None = None,
        control: RunControl | None = None,
    ) -> str:
        body = {
            "agent_id": context.get("agent_id"),
            "prompt": prompt,
            "instance_id": context.get("instance_id"),
            "context_files": context.get("context_files", []),
        }
        url, headers = _without_credentials(self.config["url"], self.config.get("headers", {}))
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
        )
        control = control or RunControl()
        answer = _Request(send=lambda: self._send(request, timeout=self.timeout_for(control)))
        output = BoundedOutput(on_output=on_output)
        output.feed(_result_field(answer.wait(control)))
        output.close()
        return output.text()

    def _send(self, request: urllib.request.Request, *, timeout: float) -> str:
        """The response body as text; RunnerError (with the URL redacted) when the request fails."""
        shown = redact_url(self.config["url"])
        opener = urllib.request.build_opener(_SameOriginRedirects)
        try:
            with opener.open(request, timeout=timeout) as response:
                body = _read_capped(response, app_settings.HTTP_MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as exc:
            if str(exc.msg or "").startswith(urllib.request.HTTPRedirectHandler.inf_msg):
                raise RunnerError(TOO_MANY_REDIRECTS % {"limit": MAX_REDIRECTS, "url": shown}) from exc
            detail = exc.read(ERROR_BODY_LIMIT).decode("utf-8", errors="replace")
            raise RunnerError(HTTP_ERROR % {"status": exc.code, "url": shown}, output=detail) from exc
        except TimeoutError as exc:
            raise RunTimedOut(timeout) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise RunTimedOut(timeout) from exc
            raise RunnerError(self._scrubbed(REQUEST_FAILED % {"url": shown, "reason": reason})) from exc
        if body is None:
            limit = app_settings.HTTP_MAX_RESPONSE_BYTES
            raise RunnerError(RESPONSE_TOO_LARGE % {"url": shown, "limit": limit})
        return body.decode("utf-8", errors="replace")

    def _scrubbed(self, text: str) -> str:
        """`text` with the URL's credentials and query replaced, wherever a library quoted them."""
        parts = urlsplit(self.config["url"])
        for secret in (parts.netloc.rpartition("@")[0], parts.query):
            if secret:
                text = text.replace(secret, REDACTED)
        return text


class _Request:
    """The request in a thread of its own, so that a cancel ends the run without waiting for the answer.

    A cancelled request is abandoned: its answer, if one comes before the socket's timeout, is dropped.
    """

    def __init__(self, *, send: Callable[[], str]) -> None:
        self._done = threading.Event()
        self._result: str | BaseException = ""
        self._send = send
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            self._result = self._send()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            self._result = exc
        finally:
            self._done.set()

    def wait(self, control: RunControl) -> str:
        """The answer's text; RunCancelled as soon as the run is asked to stop."""
        while not self._done.wait(STOP_POLL_S):
            if control.cancelled():
                raise RunCancelled()
        if isinstance(self._result, BaseException):
            raise self._result
        return self._result


def _result_field(text: str) -> str:
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    if isinstance(payload, dict) and "result" in payload:
        result = payload["result"]
        return result if isinstance(result, str) else json.dumps(result)
    return text
