"""The playground server through Starlette's TestClient: HTTP API, WebSocket protocol, limits."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground server needs starlette: pip install starlette uvicorn")
if importlib.util.find_spec("httpx2") is None and importlib.util.find_spec("httpx") is None:
    pytest.skip("Starlette's TestClient needs httpx2 (or httpx): pip install httpx2", allow_module_level=True)
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from deepgrad.playground.server import STATIC_DIR, create_app  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c


def receive_until(ws, kind, limit=200, where=lambda m: True):
    """Messages up to and including the first of type ``kind`` matching ``where``."""
    seen = []
    for _ in range(limit):
        message = ws.receive_json()
        seen.append(message)
        if message["type"] == kind and where(message):
            return message, seen
    raise AssertionError(f"no {kind!r} message in {limit}: {[m['type'] for m in seen]}")


# --- pages and static files ---------------------------------------------------------
def test_page_and_assets_are_served_from_the_package_without_a_cdn(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css", "favicon.svg"):
        assert client.get(f"/static/{name}").status_code == 200
    for path in STATIC_DIR.iterdir():
        text = path.read_text()
        urls = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text)
        assert all(u.startswith("http://www.w3.org/") for u in urls), (path.name, urls)
        assert "@import" not in text


@pytest.mark.parametrize("path", [
    "/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py", "/static/%2e%2e%2fserver.py",
    "/static/..%5cserver.py", "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/static/../../../../etc/passwd",
])
def test_path_traversal_is_refused(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert "def main" not in response.text and "root:" not in response.text


def raw_get(app, raw_path: bytes) -> tuple[int, bytes]:
    """Call the ASGI app with a path exactly as given (HTTP clients normalize '..' away)."""
    import anyio

    path = raw_path.decode("latin-1")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": raw_path, "root_path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list[dict] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await anyio.sleep_forever()  # no disconnect: the response finishes first

    async def send(message: dict) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.parametrize("raw", [b"/static/../server.py", b"/static/../../playground/server.py",
                                 b"/static/./../__init__.py", b"/static/..\\server.py",
                                 b"/static/../../../../../../etc/passwd", b"/static//etc/passwd"])
def test_raw_path_traversal_is_refused(raw):
    status, body = raw_get(create_app(), raw)
    assert status == 404 and b"import" not in body and b"root:" not in body
    assert raw_get(create_app(), b"/static/./app.js")[0] == 200


def test_trusted_hosts_and_cross_origin_writes_are_refused():
    with TestClient(create_app(allowed_hosts=["127.0.0.1", "localhost", "testserver"])) as c:
        assert c.get("/api/schema").status_code == 200
        assert c.get("/api/schema", headers={"host": "evil.example"}).status_code == 400
        assert c.post("/api/sessions", json={}, headers={"origin": "http://evil.example"}).status_code == 403
        assert c.post("/api/sessions", json={}, headers={"origin": "http://testserver"}).status_code == 201
        with pytest.raises(WebSocketDisconnect) as refused:
            with c.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
                ws.receive_json()
        assert refused.value.code == 1008


# --- state API -----------------------------------------------------------------------
def test_state_api_validates_url_queries(client):
    ok = client.get("/api/state?dataset=spiral&networkShape=8,8&learningRate=0.003")
    assert ok.status_code == 200 and ok.json()["errors"] == []
    assert ok.json()["state"]["networkShape"] == [8, 8] and "dataset=spiral" in ok.json()["query"]
    bad = client.get("/api/state?noise=80&activation=swish&foo=1")
    assert bad.status_code == 422
    messages = {e["field"]: e["message"] for e in bad.json()["errors"]}
    assert set(messages) == {"noise", "activation", "foo"} and "from 0 to 50" in messages["noise"]
    schema = client.get("/api/schema").json()
    assert schema["learningRates"][0] == 0.00001 and schema["learningRates"][-1] == 10
    assert schema["maxLayers"] == 6 and schema["maxNeurons"] == 8 and len(schema["features"]) == 7
    previews = client.get("/api/datasets").json()
    assert {"circle", "xor", "gauss", "spiral", "moons", "checkerboard", "reg-plane", "reg-gauss"} <= set(previews)


def test_sessions_are_independent(client):
    a = client.post("/api/sessions", json={"dataset": "xor", "networkShape": [3]}).json()
    b = client.post("/api/sessions", json={"problem": "regression", "regDataset": "reg-gauss"}).json()
    assert a["session"] != b["session"] and a["state"]["dataset"] == "xor" and b["state"]["problem"] == "regression"
    stepped = client.post(f"/api/sessions/{a['session']}/step?epochs=3").json()
    assert stepped["epoch"] == 3 and stepped["steps"] == 3 * 25
    assert stepped["trainLoss"] != a["trainLoss"]
    assert client.get(f"/api/sessions/{b['session']}").json()["epoch"] == 0
    patched = client.patch(f"/api/sessions/{b['session']}", json={"learningRate": 0.1})
    assert patched.status_code == 200 and patched.json()["state"]["learningRate"] == 0.1
    assert client.get(f"/api/sessions/{a['session']}").json()["state"]["learningRate"] == 0.03
    assert client.delete(f"/api/sessions/{a['session']}").status_code == 200
    assert client.get(f"/api/sessions/{a['session']}").status_code == 404


def test_session_api_errors_are_clear(client):
    sid = client.post("/api/sessions", json={}).json()["session"]
    bad = client.patch(f"/api/sessions/{sid}", json={"batchSize": 31})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "batchSize"
    assert "from 1 to 30" in bad.json()["error"]["message"]
    assert client.patch(f"/api/sessions/{sid}", content=b"{nope").status_code == 422
    assert client.patch(f"/api/sessions/{sid}", content=b"x" * 70000).status_code == 422
    assert client.get(f"/api/sessions/{sid}").json()["state"]["batchSize"] == 10
    assert client.post(f"/api/sessions/{sid}/step?epochs=99").status_code == 422
    assert client.post(f"/api/sessions/{sid}/step?epochs=-1").status_code == 422
    missing = client.get("/api/sessions/does-not-exist")
    assert missing.status_code == 404 and "reload" in missing.json()["error"]["message"]
    assert client.post("/api/sessions", json={"dataset": "csv"}).status_code == 422
    assert client.post("/api/sessions", json={"noise": -1}).json()["error"]["field"] == "noise"


def test_session_limit_and_idle_timeout():
    clock = FakeClock()
    with TestClient(create_app(max_sessions=2, idle_timeout=60, clock=clock)) as c:
        first = c.post("/api/sessions", json={}).json()["session"]
        c.post("/api/sessions", json={})
        full = c.post("/api/sessions", json={})
        assert full.status_code == 503 and "limit" in full.json()["error"]["message"]
        with c.websocket_connect("/ws") as ws:  # the page learns why it cannot start
            message = ws.receive_json()
            assert message["type"] == "error" and message["fatal"] and "limit" in message["message"]
        clock.now += 61
        assert c.get(f"/api/sessions/{first}").status_code == 404
        assert c.post("/api/sessions", json={}).status_code == 201
        with c.websocket_connect("/ws") as ws:
            receive_until(ws, "update")
            clock.now += 61
            ws.send_json({"type": "pause"})  # activity resets the clock...
            receive_until(ws, "state")
            clock.now += 61                  # ...then a minute of silence drops the session
            message, _ = receive_until(ws, "error", where=lambda m: m.get("fatal"))
            assert "without activity" in message["message"]


def test_step_budget_bounds_training():
    with TestClient(create_app(steps_per_second=200)) as c:
        with c.websocket_connect("/ws") as ws:
            receive_until(ws, "update")
            ws.send_json({"type": "play"})
            start = time.monotonic()
            update, _ = receive_until(ws, "update", where=lambda m: time.monotonic() - start > 1.0)
            elapsed = time.monotonic() - start
            assert 0 < update["steps"] <= 200 * elapsed + 50 + 1  # the rate, plus one burst


# --- WebSocket protocol -----------------------------------------------------------------
def test_websocket_session_from_the_url_with_messages(client):
    with client.websocket_connect("/ws?dataset=xor&networkShape=3&noise=999&bogus=1") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["schema"]["maxLayers"] == 6
        update, seen = receive_until(ws, "update")
        kinds = [m["type"] for m in seen]
        assert kinds == ["error", "error", "state", "data", "network", "update"]
        assert seen[0]["field"] == "noise" and seen[1]["field"] == "bogus"
        state = seen[2]
        assert state["state"]["dataset"] == "xor" and state["state"]["noise"] == 0
        assert "networkShape=3" in state["query"]
        assert len(seen[3]["train"]) == 250 and len(seen[3]["test"]) == 250
        assert seen[4]["layers"] == [2, 3, 1] and seen[4]["features"] == ["X1", "X2"]
        assert update["epoch"] == 0 and update["playing"] is False

        ws.send_json({"type": "play"})
        update, _ = receive_until(ws, "update", where=lambda m: m["epoch"] >= 3)
        assert update["playing"] and update["history"][-1][0] == update["epoch"]
        ws.send_json({"type": "pause"})
        receive_until(ws, "state", where=lambda m: not m["playing"])

        ws.send_json({"type": "set", "state": {"noise": 51}})
        error, _ = receive_until(ws, "error")
        assert error["field"] == "noise" and "0 to 50" in error["message"]
        state, _ = receive_until(ws, "state")
        assert state["state"]["noise"] == 0  # unchanged; the page puts its slider back

        ws.send_json({"type": "set", "state": {"dataset": "spiral", "networkShape": [8, 8]}})
        state, seen = receive_until(ws, "update")
        assert [m["type"] for m in seen][:3] == ["state", "data", "network"]
        assert seen[2]["layers"] == [2, 8, 8, 1] and state["epoch"] == 0

        ws.send_json({"type": "step"})
        update, _ = receive_until(ws, "update", where=lambda m: m["epoch"] == 1)
        assert update["steps"] == 25 and not update["playing"]

        ws.send_json({"type": "setWeight", "layer": 1, "node": 2, "source": 3, "value": -1.5})
        update, _ = receive_until(ws, "update")
        assert update["weights"][1][2][3] == -1.5
        ws.send_json({"type": "setBias", "layer": 2, "node": 0, "value": 0.25})
        update, _ = receive_until(ws, "update")
        assert update["biases"][2][0] == 0.25
        ws.send_json({"type": "setWeight", "layer": 1, "node": 9, "source": 0, "value": 1})
        assert receive_until(ws, "error")[0]["field"] == "node"
        ws.send_json({"type": "setWeight", "layer": 1, "node": 0, "source": 0, "value": "abc"})
        assert "must be a number" in receive_until(ws, "error")[0]["message"]

        ws.send_json({"type": "focus", "node": [2, 5]})
        update, _ = receive_until(ws, "update")
        assert update["focus"] == [2, 5] and len(update["focusMap"]) > 1000
        ws.send_json({"type": "focus", "node": None})
        assert receive_until(ws, "update")[0]["focusMap"] is None

        ws.send_json({"type": "reset"})
        update, _ = receive_until(ws, "update")
        assert update["epoch"] == 0 and update["steps"] == 0

        ws.send_json({"type": "regenerate"})
        state, _ = receive_until(ws, "state")
        assert state["state"]["seed"] != 1


@pytest.mark.parametrize("raw, words", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"type": "launch"}', "unknown message type"),
    ('{"type": "set", "state": {"x": false, "y": false}}', "at least one input feature"),
    ('{"type": "set", "state": 5}', "must be an object"),
    ('{"type": "focus", "node": [0, 99]}', "focus must be"),
    ("x" * 70000, "at most 65536"),
    ("[" * 30000 + "]" * 30000, "not valid JSON"),
])
def test_malformed_messages_get_a_message_and_the_session_lives_on(client, raw, words):
    with client.websocket_connect("/ws") as ws:
        receive_until(ws, "update")
        ws.send_text(raw)
        error, _ = receive_until(ws, "error")
        assert words in error["message"] and not error.get("fatal")
        ws.send_bytes(b"\x00\x01")
        assert "JSON text" in receive_until(ws, "error")[0]["message"]
        ws.send_json({"type": "step"})
        assert receive_until(ws, "update", where=lambda m: m["epoch"] == 1)[0]["epoch"] == 1


def test_several_websocket_sessions_at_once(client):
    with client.websocket_connect("/ws?dataset=gauss") as a, client.websocket_connect("/ws?dataset=moons") as b:
        ida, idb = a.receive_json()["session"], b.receive_json()["session"]
        assert ida != idb
        receive_until(a, "update")
        receive_until(b, "update")
        a.send_json({"type": "play"})
        b.send_json({"type": "set", "state": {"learningRate": 0.3}})
        update_a, _ = receive_until(a, "update", where=lambda m: m["epoch"] >= 2)
        state_b, _ = receive_until(b, "state")
        assert state_b["state"]["dataset"] == "moons" and state_b["state"]["learningRate"] == 0.3
        status_b = client.get(f"/api/sessions/{idb}").json()
        assert status_b["epoch"] == 0 and status_b["state"]["dataset"] == "moons"
        assert client.get(f"/api/sessions/{ida}").json()["state"]["learningRate"] == 0.03
    time.sleep(0.2)  # closing a page drops its session
    assert client.get(f"/api/sessions/{ida}").status_code == 404


# --- CSV upload ------------------------------------------------------------------------
CSV = "x,y,label\n" + "\n".join(f"{x:.2f},{np.sin(x):.3f},{1 if x > 0 else -1}" for x in np.linspace(-5, 5, 40))


def test_csv_upload_switches_the_session_to_the_points(client):
    with client.websocket_connect("/ws") as ws:
        sid = ws.receive_json()["session"]
        receive_until(ws, "update")
        ok = client.post(f"/api/sessions/{sid}/csv", content=CSV, headers={"content-type": "text/csv"})
        assert ok.status_code == 200 and ok.json()["rows"] == 40 and ok.json()["kind"] == "classification"
        state, _ = receive_until(ws, "state")
        assert state["state"]["dataset"] == "csv" and state["csv"] == {"rows": 40, "kind": "classification"}
        data, _ = receive_until(ws, "data")
        assert len(data["train"]) + len(data["test"]) == 40
        ws.send_json({"type": "set", "state": {"percTrainData": 80}})
        data, _ = receive_until(ws, "data")
        assert len(data["train"]) == 32


def test_csv_upload_limits_and_strict_parsing():
    with TestClient(create_app(max_csv_bytes=2000)) as c:
        sid = c.post("/api/sessions", json={}).json()["session"]
        too_big = c.post(f"/api/sessions/{sid}/csv", content="1,1,1\n" * 1000)
        assert too_big.status_code == 413 and "2000 bytes" in too_big.json()["error"]["message"]
        lying = c.post(f"/api/sessions/{sid}/csv", content=b"1,1,1\n" * 1000, headers={"content-length": "10"})
        assert lying.status_code in (400, 413)
        bad = c.post(f"/api/sessions/{sid}/csv", content=CSV.replace("0.00", "zero", 1)[:1900] + "\n1,1,oops")
        assert bad.status_code == 422 and "line" in bad.json()["error"]["message"]
        outside = c.post(f"/api/sessions/{sid}/csv", content=CSV[:1500] + "\n9,0,1")
        assert outside.status_code == 422 and "[-6, 6]" in outside.json()["error"]["message"]
        assert c.get(f"/api/sessions/{sid}").json()["state"]["dataset"] == "circle"
        assert c.post("/api/sessions/nope/csv", content="1,1,1").status_code == 404


# --- export ------------------------------------------------------------------------------
def test_export_safetensors_and_a_script_that_predicts_the_same(client, tmp_path):
    pytest.importorskip("safetensors", reason="exporting needs safetensors: pip install safetensors")
    from safetensors.numpy import load

    from deepgrad.playground.network import feature_matrix

    created = client.post("/api/sessions", json={"dataset": "xor", "networkShape": [4, 3], "sinX": True,
                                                 "batchNorm": True, "loss": "softmax"}).json()
    sid = created["session"]
    client.post(f"/api/sessions/{sid}/step?epochs=2")
    blob = client.get(f"/api/sessions/{sid}/export/playground.safetensors")
    assert blob.status_code == 200 and "attachment" in blob.headers["content-disposition"]
    arrays = load(blob.content)
    assert arrays["0.weight"].shape == (4, 3) and arrays["1.running_mean"].shape == (4,)
    script = client.get(f"/api/sessions/{sid}/export/playground_predict.py")
    assert script.status_code == 200 and "nn.BatchNorm1d(4)" in script.text
    assert client.get(f"/api/sessions/{sid}/export/../server.py").status_code == 404
    assert client.get(f"/api/sessions/{sid}/export/other.bin").status_code == 404

    (tmp_path / "playground.safetensors").write_bytes(blob.content)
    (tmp_path / "playground_predict.py").write_text(script.text)
    points = np.array([[-3, -3], [-3, 3], [0.5, 0.2], [3, -3], [3, 3]], dtype=np.float32)
    np.savetxt(tmp_path / "points.csv", points, delimiter=",")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "playground_predict.py", "playground.safetensors", "points.csv"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    printed = np.array([float(line.split("->")[1]) for line in run.stdout.strip().splitlines()])
    session = client.app.state.manager.get(sid)
    expected, _ = session.net.forward_all(feature_matrix(points, session.state.features))
    np.testing.assert_allclose(printed, expected, atol=2e-5)
    assert json.loads(json.dumps(created))["state"]["loss"] == "softmax"
