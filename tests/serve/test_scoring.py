"""The scoring server as a real process on 127.0.0.1 with two workers: every request format,
CSV, bad JSON and schema violations (400, and it goes on serving), the body limit, and
/metrics parsed with the Prometheus client's parser, counting every worker's requests."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.slow
COLUMNS = ["a", "b", "c", "d"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
EXPECTED = [0, 2]


def invoke(server: Server, body: object, content_type: str = "application/json"
           ) -> httpx.Response:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(f"{server.url}/invocations", content=data,
                      headers={"Content-Type": content_type})


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
    {"dataframe_records": [dict(zip(COLUMNS, r)) for r in ROWS]},
    {"instances": [dict(zip(COLUMNS, r)) for r in ROWS]},
    {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}},
    {"inputs": ROWS},
    {"dataframe_split": {"columns": COLUMNS, "data": [[5, 3, 1, 0], [7, 3, 5, 2]]}},  # ints
])
def test_every_json_format(served: Server, body: object) -> None:
    got = invoke(served, body)
    assert got.status_code == 200, got.text
    assert got.json() == {"predictions": EXPECTED}


def test_csv(served: Server) -> None:
    text = ",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"
    got = invoke(served, text, "text/csv; charset=utf-8")
    assert got.status_code == 200 and got.json() == {"predictions": EXPECTED}


def test_ping_health_version(served: Server) -> None:
    import ledger

    assert httpx.get(f"{served.url}/ping").status_code == 200
    assert httpx.get(f"{served.url}/health").status_code == 200
    assert httpx.get(f"{served.url}/version").text == ledger.__version__


@pytest.mark.parametrize("body,code,words", [
    ("{not json", "BAD_REQUEST", "valid JSON"),
    ({"rows": []}, "BAD_REQUEST", "exactly one of the input fields"),
    ({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}},
     "INVALID_PARAMETER_VALUE", "Model is missing inputs ['c', 'd']"),
    ({"dataframe_split": {"columns": COLUMNS, "data": [["x", 1, 2, 3]]}},
     "INVALID_PARAMETER_VALUE", "Incompatible input types for column a"),
])
def test_bad_requests_are_400_and_the_server_goes_on(served: Server, body: object, code: str,
                                                     words: str) -> None:
    got = invoke(served, body)
    assert got.status_code == 400
    assert got.json()["error_code"] == code and words in got.json()["message"]
    assert invoke(served, {"inputs": ROWS}).json() == {"predictions": EXPECTED}


def test_limits_and_content_types(served: Server) -> None:
    big = {"inputs": ROWS * 5000}
    assert invoke(served, big).status_code == 413
    assert invoke(served, "x", "text/plain").status_code == 415
    assert httpx.get(f"{served.url}/invocations").status_code == 405


def test_metrics_count_the_requests_of_every_worker(served: Server) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def count() -> dict[tuple[str, str], float]:
        text = httpx.get(f"{served.url}/metrics").text
        out: dict[tuple[str, str], float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "ledger_serve_requests_total" and s.labels["route"] == "/invocations":
                    key = (s.labels["status"], s.labels["method"])
                    out[key] = out.get(key, 0) + s.value
        return out

    before = count()
    body = {"inputs": ROWS}
    # new connections each, in parallel: both workers take some of them
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: invoke(served, body).status_code, range(60)))
    assert codes == [200] * 60
    assert invoke(served, "{").status_code == 400
    after = count()
    assert after[("200", "POST")] - before.get(("200", "POST"), 0) == 60
    assert after[("400", "POST")] - before.get(("400", "POST"), 0) == 1
    text = httpx.get(f"{served.url}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "ledger_serve_request_duration_seconds" in families
    assert "ledger_serve_requests_in_flight" in families
    info = families["ledger_serve_model_info"].samples[0]
    assert info.value == 1 and info.labels["uri"].endswith("iris")
