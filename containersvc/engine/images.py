"""Images: exists, inspect, list, usage, users, pull, pullable, build, remove, prune."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import docker
import docker.auth
import docker.utils
import urllib3.exceptions
from django.conf import settings

from containersvc.engine import logstream
from containersvc.engine.client import api_client, translate_errors
from containersvc.engine.containers import list_entries
from containersvc.engine.parsing import container_from_list, parse_time
from containersvc.engine.types import EngineContainer, EngineImage, ImagePrune, ImageRemoval, ImageUsage, PullProgress
from containersvc.errors import Conflict, ContainerSvcError, EngineError, InvalidRequest, NotFound


def image_exists(*, reference: str) -> bool:
    try:
        with translate_errors():
            api_client().inspect_image(reference)
    except (NotFound, InvalidRequest):
        return False
    return True


def image_pull(
    *, repository: str, tag: str | None, digest: str | None, on_progress: Callable[[PullProgress], None] | None = None
) -> None:
    """Pull and wait, handing each progress line to on_progress; an error in the stream is raised.

    docker-py's own pull reads without a timeout: this one waits at most the pull timeout for each piece of
    output, and closes the stream however it ends.
    """
    reference = f"{repository}@{digest}" if digest else repository
    client = api_client(long=True)
    params = {"fromImage": reference, "tag": None if digest else (tag or "latest")}
    header = docker.auth.get_config_header(client, docker.auth.resolve_repository_name(repository)[0])
    with translate_errors(not_found=f"Image '{reference}' was not found in its registry."):
        response = logstream.http_post(
            client,
            "/images/create",
            params=params,
            headers={"X-Registry-Auth": header} if header else {},
            stream=True,
            timeout=settings.CONTAINERSVC_PULL_TIMEOUT,
        )
        try:
            logstream.raise_for_status(client, response)
            for event in logstream.json_stream(client, response):
                if "error" in event:
                    raise InvalidRequest(f"Pulling '{reference}' failed: {event['error']}")
                if on_progress is not None:
                    detail = event.get("progressDetail") or {}
                    on_progress(
                        PullProgress(
                            layer=str(event.get("id") or ""),
                            status=str(event.get("status") or ""),
                            current=int(detail.get("current") or 0),
                            total=int(detail.get("total") or 0),
                        )
                    )
        finally:
            response.close()


def image_usage() -> dict[str, ImageUsage]:
    """Each image's unique size and container count, by id (the engine's disk usage: slower than a list)."""
    with translate_errors():
        entries = api_client(long=True).df().get("Images") or []
    usage = {}
    for entry in entries:
        size, shared = entry.get("Size") or 0, entry.get("SharedSize") or 0
        unique = size - shared if shared > 0 else size
        containers = max(0, entry.get("Containers") or 0)
        usage[entry["Id"]] = ImageUsage(id=entry["Id"], unique_bytes=unique, containers=containers)
    return usage


def image_inspect(*, reference: str) -> EngineImage:
    with translate_errors(not_found=f"No image '{reference}'."):
        entry = api_client().inspect_image(reference)
    return EngineImage(
        id=entry["Id"],
        tags=tuple(entry.get("RepoTags") or ()),
        size_bytes=entry.get("Size", 0),
        created_at=parse_time(entry.get("Created")),
    )


def image_users(*, image_id: str) -> list[EngineContainer]:
    """Containers (running or not) made from the image or from an image built on it."""
    return [container_from_list(entry) for entry in list_entries({"ancestor": [image_id]})]


def image_remove(*, reference: str) -> ImageRemoval:
    """Untag a reference (deleting the image with its last tag), or delete an image by id; never forced."""
    with translate_errors(not_found=f"No image '{reference}'."):
        entries = api_client().remove_image(reference, force=False, noprune=False) or []
    return ImageRemoval(
        deleted=tuple(entry["Deleted"] for entry in entries if "Deleted" in entry),
        untagged=tuple(entry["Untagged"] for entry in entries if "Untagged" in entry),
    )


def image_prune(*, dangling_only: bool, labels: dict[str, str] | None = None) -> ImagePrune:
    """Delete dangling images (untagged, used by none), or every image no container uses."""
    filters: dict[str, list[str]] = {"dangling": ["true" if dangling_only else "false"]}
    if labels:
        filters["label"] = [f"{key}={value}" for key, value in labels.items()]
    with translate_errors():
        result = api_client(long=True).prune_images(filters=filters)
    return ImagePrune(
        deleted=tuple(entry["Deleted"] for entry in result.get("ImagesDeleted") or [] if "Deleted" in entry),
        space_reclaimed_bytes=result.get("SpaceReclaimed") or 0,
    )


def image_pullable(*, reference: str) -> bool:
    """Ask the image's own registry, through the engine, whether the reference can be pulled."""
    try:
        with translate_errors():
            api_client().inspect_distribution(reference)
    except (NotFound, InvalidRequest, EngineError, Conflict):
        return False
    return True


def image_list() -> list[EngineImage]:
    with translate_errors():
        entries = api_client().images()
    return [
        EngineImage(
            id=entry["Id"],
            tags=tuple(tag for tag in entry.get("RepoTags") or [] if tag != "<none>:<none>"),
            size_bytes=entry.get("Size", 0),
            created_at=parse_time(entry.get("Created")),
        )
        for entry in entries
    ]


MESSAGE_BUILD_STOPPED = "The build was stopped before it ended."


class BuildStream:
    """A running build: read() hands its output on and returns the image id; close() from any thread stops it.

    The engine stops a build whose client went away (and kills the step container that was running).
    """

    def __init__(self, client: docker.APIClient, response, tag: str) -> None:
        self._client = client
        self._response = response
        self._tag = tag
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def read(self, *, on_output: Callable[[str], None]) -> str:
        image_id = ""
        try:
            with translate_errors():
                for event in logstream.json_stream(self._client, self._response):
                    if "stream" in event:
                        on_output(event["stream"])
                    elif "status" in event:
                        on_output(f"{event['status']} {event.get('progress', '')}".rstrip() + "\n")
                    if "aux" in event and "ID" in event["aux"]:
                        image_id = event["aux"]["ID"]
                    if "error" in event:
                        error = InvalidRequest(event["error"].strip())  # its message names no host details
                        on_output(error.message + "\n")
                        raise error
        except (ContainerSvcError, urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
            if not self.closed:
                raise
        finally:
            self._response.close()
        if self.closed:
            raise Conflict(MESSAGE_BUILD_STOPPED)
        if not image_id:
            with translate_errors():
                image_id = api_client().inspect_image(self._tag)["Id"]
        return image_id

    def close(self) -> None:
        self._closed.set()
        logstream.shutdown(self._response)


def _dockerignore(context_dir: str) -> list[str]:
    """The context's .dockerignore patterns, as `docker build` reads them."""
    try:
        with open(os.path.join(context_dir, ".dockerignore")) as ignore:
            lines = [line.strip() for line in ignore.read().splitlines()]
    except FileNotFoundError:
        return []
    return [line for line in lines if line and not line.startswith("#")]


def image_build_open(*, context_dir: str, dockerfile: str, tag: str) -> BuildStream:
    """Send the context (the Dockerfile is inside it) and start the build; read its output with read()."""
    client = api_client(long=True)
    with translate_errors():
        context = docker.utils.tar(context_dir, exclude=_dockerignore(context_dir), dockerfile=(dockerfile, None))
        try:
            headers = {"Content-Type": "application/tar"}
            logstream.add_auth_headers(client, headers)
            response = logstream.http_post(
                client,
                "/build",
                data=context,
                params={"t": tag, "dockerfile": dockerfile, "rm": "1", "forcerm": "1"},
                headers=headers,
                stream=True,
                timeout=settings.CONTAINERSVC_PULL_TIMEOUT,
            )
        finally:
            context.close()
        logstream.raise_for_status(client, response)
    return BuildStream(client, response, tag)


def image_build(*, context_dir: str, dockerfile: str, tag: str, on_output: Callable[[str], None]) -> str:
    """Build with the engine, handing each piece of output to on_output; returns the image id."""
    return image_build_open(context_dir=context_dir, dockerfile=dockerfile, tag=tag).read(on_output=on_output)
