"""Posting TF Serving REST JSON to a served export, and the serving contract every answer must keep.

    served = Served("http://127.0.0.1:8765", "imdb_sentiment")
    status, body = served.post({"instances": ["A fine film."]})   # any JSON value, or raw bytes
    rows = served.answer(request)   # 200 -> the predictions / outputs; 400 -> None; anything else fails

The contract (issue 7): a request gets either a defined answer (HTTP 200) or a clear error (HTTP 400 with a
non-empty message), never a dropped connection, another status, or a dead server. `answer` checks that,
and that the server still says AVAILABLE afterwards.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse


class ServingContractError(AssertionError):
    """The server broke the contract: no answer, a status other than 200/400, or it stopped answering."""


class Served:
    """One model behind a TF-Serving-shaped REST server (shared/runtime/bare_tf.py --serve)."""

    def __init__(self, url: str, model: str, timeout: float = 120.0):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port, self.model, self.timeout = parsed.hostname, parsed.port, model, timeout

    def _request(self, method: str, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:  # reset, refused, closed without a reply
            raise ServingContractError(f"no HTTP answer to {method} {path}: {error!r}") from None
        finally:
            connection.close()

    def post(self, request) -> tuple[int, object]:
        """POST one predict request (a JSON value, or raw bytes sent as they are) -> (status, JSON body)."""
        data = request if isinstance(request, bytes) else json.dumps(request).encode("utf-8")
        status, body = self._request("POST", f"/v1/models/{self.model}:predict", data)
        try:
            return status, json.loads(body)
        except ValueError:
            raise ServingContractError(f"HTTP {status} with a body that is not JSON: {body[:200]!r}") from None

    def assert_alive(self) -> None:
        """The server process still answers its model-status request with AVAILABLE."""
        status, body = self._request("GET", f"/v1/models/{self.model}")
        state = json.loads(body)["model_version_status"][0]["state"] if status == 200 else None
        if state != "AVAILABLE":
            raise ServingContractError(f"the server stopped serving: HTTP {status} {body[:200]!r}")

    def answer(self, request):
        """The response's predictions (row form) or outputs (columnar form) on HTTP 200, None on HTTP 400.

        Raises ServingContractError for anything else, a 400 without a message, or a server that no
        longer answers afterwards.
        """
        status, body = self.post(request)
        self.assert_alive()
        if status == 400:
            message = body.get("error") if isinstance(body, dict) else None
            if not isinstance(message, str) or not message.strip():
                raise ServingContractError(f"HTTP 400 without an error message: {body!r}"[:500])
            return None
        if status != 200:
            raise ServingContractError(f"HTTP {status}: {body!r}"[:500])
        if not isinstance(body, dict) or len(body) != 1 or not {"predictions", "outputs"} & set(body):
            raise ServingContractError(f"HTTP 200 without predictions or outputs: {body!r}"[:500])
        return next(iter(body.values()))

    def error(self, request) -> str:
        """The error message of a request that must be refused (fails if it gets HTTP 200)."""
        status, body = self.post(request)
        self.assert_alive()
        if status != 400 or not isinstance(body, dict) or not str(body.get("error", "")).strip():
            raise ServingContractError(f"expected HTTP 400 with a message, got HTTP {status}: {body!r}"[:500])
        return body["error"]
