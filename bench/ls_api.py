"""A token-authenticated JSON client of Label Studio's API, for the scripts that drive a real
Label Studio (bench/ls_push.py, tests/labelstudio/push.py, tests/converter/ls_exports.py and
ls_quality.py). Standard library only."""
import json
import urllib.error
import urllib.request


class Api:
    def __init__(self, base, token, timeout=120):
        self.base, self.token, self.timeout = base.rstrip("/"), token, timeout

    def call(self, method, path, body=None, raw=False, data=None):
        """`body` is sent as JSON, `data` as bytes already JSON; the answer is parsed unless
        `raw`. An HTTP error stops the script with Label Studio's answer."""
        if data is None and body is not None:
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{method} {path}: HTTP {e.code}: {e.read()[:500]!r}")
        return payload if raw else json.loads(payload or b"null")

    def tasks(self, project):
        """Every task of a project, with annotations and predictions."""
        out, page = [], 1
        while True:
            got = self.call("GET", f"/api/tasks/?project={project}&page={page}&page_size=100&fields=all")
            out += got["tasks"]
            if len(out) >= got["total"] or not got["tasks"]:
                return out
            page += 1
