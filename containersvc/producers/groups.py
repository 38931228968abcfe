"""Channel-layer group names and the payloads producers publish and consumers forward, in one place.

Group names are built from container ids (64 hex), build ids and user ids (integers) only, never from user
text. Stream groups carry this process's token: producers live in one process and fan out to that process's
sockets, so with a shared Redis layer two processes never receive each other's copy of the same stream. User
groups do not: a change of access made in one process must reach the user's sockets in all of them.
"""

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from containersvc.api.serializers import container_status_json, image_pull_json
from containersvc.engine import LogLine
from containersvc.models import Container, ImagePull

PROCESS = secrets.token_hex(6)
CONTAINER_ID = re.compile(r"^[0-9a-f]{64}$")

# Event types (the `type` key; Channels maps "log.batch" to the consumer method log_batch).
CONTAINER_STATUS = "container.status"
ENGINE_STATUS = "engine.status"
LOG_BATCH = "log.batch"
LOG_ENDED = "log.ended"
BUILD_OUTPUT = "build.output"
BUILD_STATUS = "build.status"
PULL_PROGRESS = "pull.progress"
ACCESS_CHANGED = "access.changed"


def containers_group() -> str:
    return f"containersvc.containers.{PROCESS}"


def container_logs_group(container_id: str) -> str:
    if not CONTAINER_ID.match(container_id):
        raise ValueError("a container id is 64 lowercase hex characters")
    return f"containersvc.logs.{container_id}.{PROCESS}"


def build_group(build_id: int) -> str:
    return f"containersvc.build.{int(build_id)}.{PROCESS}"


def user_group(user_id: int) -> str:
    """Every socket of one user, in every process (no process token): revocation must reach them all."""
    return f"containersvc.user.{int(user_id)}"


# --- payloads ---------------------------------------------------------------------------------------------
def container_payload(row: Container) -> dict:
    """One container as the status socket sends it and the dashboard's list shows it: declared (for the OpenAPI
    document) and written in one place, api.serializers.ContainerStatusSerializer and container_status_json."""
    return container_status_json(row)


def container_status_event(*, containers: Iterable[dict], removed: Iterable[str] = (), full: bool = False) -> dict:
    """A batch of changed containers; `full` means the list is complete and anything missing is gone."""
    return {"type": CONTAINER_STATUS, "full": full, "containers": list(containers), "removed": list(removed)}


def engine_status_event(*, available: bool, error: str = "") -> dict:
    return {"type": ENGINE_STATUS, "available": available, "error": error}


def log_line_payload(number: int | None, line: LogLine, max_chars: int) -> list:
    """[number, stream, timestamp_ns, text]: compact, since a batch carries hundreds of them. The number
    counts lines within one follower (generation), so a viewer resumes exactly after the last it saw; lines
    read from the engine's past for one socket (history) have none (null). The timestamp is a string:
    nanoseconds since the epoch exceed what a JavaScript number holds exactly."""
    text = line.text if len(line.text) <= max_chars else line.text[:max_chars] + "…"
    return [number, line.stream, str(line.timestamp_ns), text]


@dataclass(frozen=True, slots=True)
class LinePosition:
    """Where a line stands in a container's log: its stream and the engine's timestamp (unique in a stream)."""

    stream: str
    timestamp_ns: int

    @classmethod
    def of(cls, line: LogLine) -> "LinePosition":
        return cls(line.stream, line.timestamp_ns)


@dataclass(frozen=True, slots=True)
class EncodedLines:
    """Consecutive line payloads encoded to JSON once, as the items of an array without its brackets, so that
    a batch goes to any number of sockets without being encoded (or copied by the channel layer) per socket."""

    items: str
    count: int
    first: int | None  # follower numbers of the first and last line (None for history lines)
    last: int | None
    end: LinePosition  # the last line's

    @classmethod
    def of(cls, payloads: Sequence[list]) -> "EncodedLines":
        items = json.dumps(payloads, ensure_ascii=False, separators=(",", ":"))[1:-1]
        _, stream, stamp, _ = payloads[-1]
        end = LinePosition(stream, int(stamp))
        return cls(items=items, count=len(payloads), first=payloads[0][0], last=payloads[-1][0], end=end)

    def decoded(self) -> list[list]:
        return json.loads(f"[{self.items}]")


def encoded_lines(numbered: Sequence[tuple[int | None, LogLine]], max_chars: int) -> EncodedLines | None:
    """Lines with their numbers (None for lines of the past) as one encoded piece; None for no lines."""
    if not numbered:
        return None
    return EncodedLines.of([log_line_payload(number, line, max_chars) for number, line in numbered])


def log_batch_event(*, container_id: str, generation: str, seq: int, lines: EncodedLines | None, dropped: int) -> dict:
    """Lines of one follower, numbered per follower (generation) so a consumer sees a lost batch. The lines
    travel encoded (a string), which the in-memory layer's per-socket deep copy does not have to walk."""
    return {
        "type": LOG_BATCH,
        "container": container_id,
        "generation": generation,
        "seq": seq,
        "lines": lines.items if lines else "",
        "count": lines.count if lines else 0,
        "first": lines.first if lines else None,
        "last": lines.last if lines else None,
        "end": [lines.end.stream, lines.end.timestamp_ns] if lines else None,
        "dropped": dropped,
    }


def encoded_lines_of(event: dict) -> EncodedLines | None:
    """The lines of a log batch event, as log_batch_event packed them."""
    if not event["count"]:
        return None
    end = LinePosition(*event["end"])
    return EncodedLines(items=event["lines"], count=event["count"], first=event["first"], last=event["last"], end=end)


def log_ended_event(*, container_id: str, generation: str, error: str = "") -> dict:
    return {"type": LOG_ENDED, "container": container_id, "generation": generation, "error": error}


def build_output_event(*, build_id: int, offset: int, text: str, skipped: int) -> dict:
    """Output starting at character `offset` of the build's whole output; `skipped` characters were cut before."""
    return {"type": BUILD_OUTPUT, "build": build_id, "offset": offset, "text": text, "skipped": skipped}


def build_status_event(*, build_id: int, status: str, error: str = "", image_id: str = "") -> dict:
    return {"type": BUILD_STATUS, "build": build_id, "status": status, "error": error, "imageId": image_id}


def session_digest(session_key: str) -> str:
    """A session named without its key (which would log anyone in) in messages between processes."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def access_changed_event(*, session_key: str = "") -> dict:
    """Sockets of the group's user check their access again; those of `session_key` (logged out) close."""
    return {"type": ACCESS_CHANGED, "session": session_digest(session_key) if session_key else ""}


def pull_group(pull_id: int) -> str:
    return f"containersvc.pull.{int(pull_id)}.{PROCESS}"


def pull_payload(pull: ImagePull) -> dict:
    """An ImagePull as the API (GET /image/pulls/{id}) and the live socket show it: declared (for the OpenAPI
    document) and written in one place, api.serializers.ImagePullSerializer and image_pull_json."""
    return image_pull_json(pull)


def pull_progress_event(pull) -> dict:
    return {"type": PULL_PROGRESS, "pull": pull_payload(pull)}
