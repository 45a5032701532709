"""The shortest path a user takes: create, claim, complete, read back."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_create_claim_complete(api: TestClient) -> None:
    created = api.post("/api/tasks", json={"type": "example.echo", "params": {"message": "hi"}})
    assert created.status_code == 201
    claimed = api.post("/api/tasks/claim", json={"worker_id": "w1"}).json()
    assert claimed["id"] == created.json()["id"]
    done = api.post(
        f"/api/tasks/{claimed['id']}/complete",
        json={"result": {"echo": "hi"}, "lease_token": claimed["lease_token"]},
    )
    assert done.status_code == 200
    assert api.get(f"/api/tasks/{claimed['id']}").json()["result"] == {"echo": "hi"}
