"""A container's logs in tests: as the logs API answers them, as the store holds them, as the engine has them."""

from django.db.models import Q

from containersvc.models import LogChunk
from tests.conftest import TEST_NODE, wait_for


def fetch_logs(api, *, oldest_first: bool = False, **body) -> list[dict]:
    """The logs API's chunks for `body`: newest first, as it answers, or oldest first."""
    response = api.post("/container-svc/logs", body, format="json")
    assert response.status_code == 200, response.json()
    logs = response.json()["logs"]
    return sorted(logs, key=lambda chunk: int(chunk["id"])) if oldest_first else logs


def stored_lines(container: str, stream: str) -> list[str]:
    """The lines of one stream stored for the container of this node with that id or name, in order."""
    chunks = LogChunk.objects.filter(
        Q(container__container_id=container) | Q(container__name=container),
        container__node_id=TEST_NODE,
        stream=stream,
    ).order_by("id")
    return [line for chunk in chunks for line in chunk.content.split("\n")]


def wait_for_output(container, text: str) -> None:
    """Wait until the engine's log of the container (stdout and stderr) holds `text`."""
    wait_for(lambda: text in container.logs(stdout=True, stderr=True).decode(), timeout=10, what=f"{text!r} printed")
