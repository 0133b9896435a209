"""POSTs the prompt to an AI-agent service and returns its `result` (or the whole body)."""

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ValidationError

from councilors.runners.base import OutputCallback, Runner, RunnerError

URL_INVALID = "url must be an http:// or https:// address."
ERROR_BODY_LIMIT = 500


class HttpRunner(Runner):
    """POST {agent_id, prompt, instance_id, context_files} as JSON; a non-2xx answer fails."""

    name = "http"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        super().validate_config(config)
        url = config.get("url")
        if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
            raise ValidationError({"runner_config": URL_INVALID})

    def run(self, prompt: str, context: dict[str, Any], on_output: OutputCallback | None = None) -> str:
        body = {
            "agent_id": context.get("agent_id"),
            "prompt": prompt,
            "instance_id": context.get("instance_id"),
            "context_files": context.get("context_files", []),
        }
        request = urllib.request.Request(
            self.config["url"],
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self.config.get("headers", {})},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:ERROR_BODY_LIMIT]
            raise RunnerError(f"HTTP {exc.code} from {self.config['url']}", output=detail) from exc
        except TimeoutError as exc:
            raise RunnerError(f"timed out after {self.timeout:g}s") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise RunnerError(f"timed out after {self.timeout:g}s") from exc
            raise RunnerError(f"request to {self.config['url']} failed: {reason}") from exc
        output = _result_field(text)
        if on_output is not None:
            on_output(output)
        return output


def _result_field(text: str) -> str:
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    if isinstance(payload, dict) and "result" in payload:
        result = payload["result"]
        return result if isinstance(result, str) else json.dumps(result)
    return text
