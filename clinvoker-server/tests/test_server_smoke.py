def test_health_answers(server):
    with server.client() as c:
        r = c.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] in ("ok", "degraded")
    assert {b["name"] for b in body["backends"]} == {"stub", "stub2"}
    assert r.headers["x-request-id"].startswith("req_")
