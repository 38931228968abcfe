"""Request validation and response shapes of the API (camelCase, as the 1Backend clients send them)."""

from datetime import datetime

from rest_framework import serializers
from rest_framework.settings import api_settings

from containersvc import validation
from containersvc.engine import ContainerDetails
from containersvc.errors import InvalidRequest
from containersvc.labels import PREFIX
from containersvc.list_caches import Representations
from containersvc.models import Container, ImageBuild, ImagePull, PullStatus
from containersvc.services.builds import build_context_shown
from containersvc.services.mirror import key_values_as_json, ports_as_json
from containersvc.services.run_spec import (
    MAX_ASSETS,
    MAX_COMMAND_ARG_CHARS,
    MAX_COMMAND_ARGS,
    MAX_ENV_VALUE_BYTES,
    MAX_ENVS,
    MAX_GPU_COUNT,
    MAX_GPU_IDS,
    MAX_KEEPS,
    MAX_KEY_CHARS,
    MAX_LABELS,
    MAX_PORTS,
    MAX_URL_CHARS,
)

MAX_LIST_LIMIT = 1000
MAX_SUMMARY_LINES = 10000


def _check(function, value):
    """Run a validation.* check, reporting its message as a field error."""
    try:
        return function(value)
    except InvalidRequest as error:
        raise serializers.ValidationError(error.message) from error


def _image_reference_checked(value: str) -> str:
    """The field's value once validation.image_reference accepts it. The API reports a bad reference as an error
    of its field, with the request's other field errors; the service (pulls.pull_create, builds.build_create)
    parses it again with the same function, its own guard for callers other than the API (the dashboard)."""
    _check(validation.image_reference, value)
    return value


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently ignored: a typo must not run a different container."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                message = f"Unknown field(s): {', '.join(unknown)}."
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})
        return super().to_internal_value(data)


def optional_list(child, max_length: int, **kwargs):
    return serializers.ListField(child=child, required=False, allow_null=True, max_length=max_length, **kwargs)


class PortSerializer(StrictSerializer):
    internal = serializers.IntegerField(min_value=1, max_value=65535)
    host = serializers.IntegerField(
        min_value=0,
        max_value=65535,
        required=False,
        default=0,
        help_text="0 picks a free port. Below 1024 only for superusers (unless the node allows low ports).",
    )


class KeyValueSerializer(StrictSerializer):
    key = serializers.CharField(max_length=MAX_KEY_CHARS, allow_blank=True, trim_whitespace=False)
    value = serializers.CharField(
        max_length=MAX_ENV_VALUE_BYTES, allow_blank=True, trim_whitespace=False, required=False, default=""
    )


class KeepSerializer(StrictSerializer):
    path = serializers.CharField(max_length=1024)
    readOnly = serializers.BooleanField(required=False, default=False)


class AssetSerializer(StrictSerializer):
    envVarKey = serializers.CharField(max_length=255)
    url = serializers.CharField(max_length=MAX_URL_CHARS)


class CapabilitiesSerializer(StrictSerializer):
    gpuEnabled = serializers.BooleanField(required=False, default=False)
    gpuIds = optional_list(
        serializers.RegexField(validation.GPU_ID), MAX_GPU_IDS,
        help_text="Extension: only these GPUs (indexes or UUIDs).",
    )  # fmt: skip
    gpuCount = serializers.IntegerField(
        min_value=1, max_value=MAX_GPU_COUNT, required=False, allow_null=True,
        help_text="Extension: this many GPUs, any of them.",
    )  # fmt: skip


class ResourcesSerializer(StrictSerializer):
    """Resource limits asked for on run (an extension)."""

    cpus = serializers.FloatField(
        required=False, allow_null=True, help_text="CPUs (fractional cores, e.g. 0.5), more than 0, at most the node's."
    )
    memoryBytes = serializers.IntegerField(
        required=False, allow_null=True,
        help_text=f"Memory limit in bytes, at least {validation.MIN_MEMORY_BYTES}; no swap beyond it.",
    )  # fmt: skip
    pidsLimit = serializers.IntegerField(required=False, allow_null=True, help_text="Most processes, at least 1.")


class RunContainerRequestSerializer(StrictSerializer):
    # The wire shape only: services.run_spec.run_spec_parse validates the values and makes the RunSpec.
    image = serializers.CharField(max_length=validation.MAX_REFERENCE_LENGTH, allow_blank=True)
    # Not trimmed: "web\n" is refused, never quietly taken for "web".
    names = optional_list(
        serializers.CharField(max_length=validation.MAX_CONTAINER_NAME_LENGTH, trim_whitespace=False), 1
    )
    ports = optional_list(PortSerializer(), MAX_PORTS)
    hash = serializers.RegexField(
        validation.RUN_HASH, max_length=validation.MAX_HASH_LENGTH, required=False, allow_blank=True, allow_null=True
    )
    labels = optional_list(KeyValueSerializer(), MAX_LABELS)
    envs = optional_list(KeyValueSerializer(), MAX_ENVS)
    keeps = optional_list(KeepSerializer(), MAX_KEEPS)
    assets = optional_list(AssetSerializer(), MAX_ASSETS)
    capabilities = CapabilitiesSerializer(required=False, allow_null=True)
    command = optional_list(
        serializers.CharField(max_length=MAX_COMMAND_ARG_CHARS, trim_whitespace=False), MAX_COMMAND_ARGS,
        help_text="Extension: the command to run instead of the image's default.",
    )  # fmt: skip
    resources = ResourcesSerializer(
        required=False, allow_null=True,
        help_text="Extension: resource limits; what is not given is the node's default, never above its maximum.",
    )  # fmt: skip


class RunContainerResponseSerializer(serializers.Serializer):
    started = serializers.BooleanField()
    ports = PortSerializer(many=True)
    id = serializers.CharField(help_text="Extension: the container's id.")
    name = serializers.CharField(help_text="Extension: the container's name.")


class ContainerTargetSerializer(StrictSerializer):
    id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    name = serializers.CharField(max_length=validation.MAX_CONTAINER_NAME_LENGTH, required=False, allow_blank=True)

    def validate(self, data):
        if not data.get("id") and not data.get("name"):
            raise serializers.ValidationError("Give the container's id or name.")
        return data


class StopContainerRequestSerializer(ContainerTargetSerializer):
    timeout = serializers.IntegerField(
        required=False, min_value=0, max_value=3600, help_text="Extension: seconds before the container is killed."
    )


class RemoveContainerRequestSerializer(ContainerTargetSerializer):
    force = serializers.BooleanField(required=False, default=False, help_text="Remove even when running.")


class ListContainersRequestSerializer(StrictSerializer):
    nodeId = serializers.CharField(max_length=253, required=False, allow_blank=True)
    containerId = serializers.CharField(max_length=128, required=False, allow_blank=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIST_LIMIT)


class ContainerResourcesSerializer(serializers.Serializer):
    cpu = serializers.FloatField(help_text="CPU limit in CPUs (fractional cores).")
    memoryMB = serializers.IntegerField(help_text="Memory limit in MiB (also memory plus swap).")
    diskMB = serializers.IntegerField(help_text="Not limited: always 0.")


class NetworkSerializer(serializers.Serializer):
    mode = serializers.CharField()
    ipAddress = serializers.CharField()
    macAddress = serializers.CharField()


class ContainerSerializer(serializers.Serializer):
    """A container as the 1Backend API shows it."""

    # Declared here for the document, written by container_json below: DRF's per-field rendering would cost more
    # than the rest of a list of 500. tests/unit/test_container_shapes.py holds the two to each other.

    id = serializers.CharField()
    nodeId = serializers.CharField()
    names = serializers.ListField(child=serializers.CharField())
    image = serializers.CharField()
    ports = PortSerializer(many=True)
    hash = serializers.CharField()
    labels = KeyValueSerializer(many=True)
    envs = KeyValueSerializer(many=True)
    keeps = KeepSerializer(many=True)
    assets = AssetSerializer(many=True)
    volumes = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField(help_text="created, running, paused, restarting, exited, dead or removed.")
    statusText = serializers.CharField(help_text="Extension: the engine's status line.")
    exitCode = serializers.IntegerField(allow_null=True, help_text="Extension.")
    managed = serializers.BooleanField(help_text="Extension: created by Container Svc.")
    runtime = serializers.CharField()
    resources = ContainerResourcesSerializer(help_text="Limits; 0: none.")
    capabilities = CapabilitiesSerializer()
    network = NetworkSerializer()
    createdAt = serializers.DateTimeField(allow_null=True, help_text="Extension.")

    def to_representation(self, instance: Container) -> dict:
        return container_json(instance)


def container_json(row: Container) -> dict:
    """A mirror row in ContainerSerializer's shape. Envs, keeps, assets and ports are stored in their wire shape
    (services.mirror); labels are shown without the service's own."""
    return {
        "id": row.container_id,
        "nodeId": row.node_id,
        "names": row.names,
        "image": row.image,
        "ports": [{"internal": port["internal"], "host": port["host"]} for port in row.ports],
        "hash": row.hash,
        "labels": [{"key": key, "value": value} for key, value in row.labels.items() if not key.startswith(PREFIX)],
        "envs": row.envs,
        "keeps": row.keeps,
        "assets": row.assets,
        "volumes": row.volumes,
        "status": row.state,
        "statusText": row.status,
        "exitCode": row.exit_code,
        "managed": row.managed,
        "runtime": row.runtime,
        "resources": {"cpu": row.nano_cpus / 1_000_000_000, "memoryMB": row.memory_mb, "diskMB": 0},
        "capabilities": {"gpuEnabled": row.gpu_enabled},
        "network": network_json(mode=row.network_mode, ip_address=row.ip_address, mac_address=row.mac_address),
        "createdAt": iso_or_none(row.engine_created_at),
    }


def network_json(*, mode: str, ip_address: str, mac_address: str) -> dict:
    """NetworkSerializer's shape (the list's and inspect's `network`)."""
    return {"mode": mode, "ipAddress": ip_address, "macAddress": mac_address}


def iso_or_none(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class ContainerRepresentations(Representations):
    """The list cache (list_caches.Representations) of rows in ContainerSerializer's shape; DRF's ListSerializer
    is left out too: it costs as much as the rows."""

    def __init__(self) -> None:
        super().__init__(represent=container_json)


class InspectedPortSerializer(serializers.Serializer):
    # A port as the mirror stores it (services.mirror.ports_as_json): inspect and the status socket show it so.

    internal = serializers.IntegerField()
    host = serializers.IntegerField()
    protocol = serializers.CharField()


class ContainerStatusSerializer(serializers.Serializer):
    """A container as the status socket (ws/containers/) sends it: the values of a Container that a row of the
    dashboard's list needs, under the names the dashboard reads: `state` is the Container's `status`, `status`
    its `statusText`, `gpuEnabled` its `capabilities.gpuEnabled`, `name` the first of its `names`; ports keep
    their protocol."""

    # Written by container_status_json below. No operation answers it: api.socket_shapes declares it.

    id = serializers.CharField()
    name = serializers.CharField(help_text="The first of the container's names; empty when it has none.")
    image = serializers.CharField()
    state = serializers.CharField(help_text="created, running, paused, restarting, exited, dead or removed.")
    status = serializers.CharField(help_text="The engine's status line.")
    ports = InspectedPortSerializer(many=True)
    gpuEnabled = serializers.BooleanField()
    managed = serializers.BooleanField(help_text="Created by Container Svc.")
    exitCode = serializers.IntegerField(allow_null=True)
    createdAt = serializers.DateTimeField(allow_null=True)


def container_status_json(row: Container) -> dict:
    """A mirror row in ContainerStatusSerializer's shape (producers.groups.container_payload sends it)."""
    return {
        "id": row.container_id,
        "name": row.name,
        "image": row.image,
        "state": row.state,
        "status": row.status,
        "ports": row.ports,
        "gpuEnabled": row.gpu_enabled,
        "managed": row.managed,
        "exitCode": row.exit_code,
        "createdAt": iso_or_none(row.engine_created_at),
    }


class ListLogsRequestSerializer(ListContainersRequestSerializer):
    before = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Extension: only chunks older than this id (the last id of the previous page), to page back.",
    )  # fmt: skip


class LogSerializer(serializers.Serializer):
    id = serializers.CharField()
    nodeId = serializers.CharField()
    containerId = serializers.CharField()
    createdAt = serializers.DateTimeField()
    content = serializers.CharField()
    stream = serializers.CharField(help_text="Extension: stdout or stderr.")
    gap = serializers.BooleanField(
        help_text="Extension: a marker, not output: lines of the stream between createdAt and the next chunk's "
        "may be missing (the engine's log rotated past them before they were stored)."
    )

    def to_representation(self, chunk) -> dict:
        return {
            "id": str(chunk.pk),
            "nodeId": chunk.container.node_id,
            "containerId": chunk.container.container_id,
            "createdAt": chunk.first_line_at.isoformat(),
            "content": chunk.content,
            "stream": chunk.stream,
            "gap": chunk.gap,
        }


class NameOrHashQuerySerializer(StrictSerializer):
    name = serializers.CharField(max_length=validation.MAX_CONTAINER_NAME_LENGTH, required=False, allow_blank=True)
    hash = serializers.CharField(max_length=validation.MAX_HASH_LENGTH, required=False, allow_blank=True)

    def validate(self, data):
        if not data.get("name") and not data.get("hash"):
            raise serializers.ValidationError("Give a container name or hash.")
        return data


class SummaryQuerySerializer(NameOrHashQuerySerializer):
    lines = serializers.IntegerField(required=False, default=10, min_value=1, max_value=MAX_SUMMARY_LINES)


class BuildImageRequestSerializer(StrictSerializer):
    name = serializers.CharField(max_length=validation.MAX_REFERENCE_LENGTH, allow_blank=True)
    contextPath = serializers.CharField(max_length=4096)
    dockerfilePath = serializers.CharField(max_length=4096, required=False, allow_blank=True, allow_null=True)

    def validate_name(self, value: str) -> str:
        return _image_reference_checked(value)


class ImageBuildSerializer(serializers.ModelSerializer):
    requestedBy = serializers.CharField(source="requested_by.username", default=None)
    contextPath = serializers.SerializerMethodField(help_text="Relative to the build root, as it was asked for.")
    dockerfilePath = serializers.CharField(source="dockerfile_path")
    imageId = serializers.CharField(source="image_id")
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at")
    finishedAt = serializers.DateTimeField(source="finished_at")
    outputTruncated = serializers.BooleanField(source="output_truncated")

    def get_contextPath(self, build: ImageBuild) -> str:
        return build_context_shown(context_path=build.context_path)

    class Meta:
        model = ImageBuild
        fields = [
            "id", "tag", "status", "contextPath", "dockerfilePath", "imageId", "error", "requestedBy",
            "createdAt", "startedAt", "finishedAt", "outputTruncated",
        ]  # fmt: skip


class ImageBuildDetailSerializer(ImageBuildSerializer):
    class Meta(ImageBuildSerializer.Meta):
        fields = [*ImageBuildSerializer.Meta.fields, "output"]


class PullImageRequestSerializer(StrictSerializer):
    image = serializers.CharField(max_length=validation.MAX_REFERENCE_LENGTH, allow_blank=True)

    def validate_image(self, value: str) -> str:
        return _image_reference_checked(value)


class PullLayerSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The layer's short id.")
    status = serializers.CharField(help_text="The engine's last word on it: Waiting, Downloading, Pull complete...")
    currentBytes = serializers.IntegerField()
    totalBytes = serializers.IntegerField(help_text="0 until the engine says.")


class PullProgressSerializer(serializers.Serializer):
    layers = serializers.IntegerField()
    layersDone = serializers.IntegerField()
    currentBytes = serializers.IntegerField(help_text="Downloaded, of the layers whose size is known.")
    totalBytes = serializers.IntegerField()


class ImagePullSerializer(serializers.Serializer):
    """A pull as the API shows it; the live socket (ws/pulls/<id>/) sends the same."""

    # Written by image_pull_json below (producers.groups.pull_payload sends it).

    id = serializers.IntegerField()
    image = serializers.CharField()
    status = serializers.ChoiceField(choices=PullStatus.choices)
    message = serializers.CharField(help_text="The engine's last line about the whole image.")
    error = serializers.CharField()
    note = serializers.CharField(help_text="What followed the pull (a run asked for from the dashboard).")
    requestedBy = serializers.CharField(allow_null=True)
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)
    progress = PullProgressSerializer()
    layers = PullLayerSerializer(many=True)


def image_pull_json(pull: ImagePull) -> dict:
    """An ImagePull in ImagePullSerializer's shape (GET /image/pulls/{id}, and the live socket)."""
    requested_by = pull.requested_by if pull.requested_by_id else None
    return {
        "id": pull.pk,
        "image": pull.image,
        "status": pull.status,
        "message": pull.message,
        "error": pull.error,
        "note": pull.note,
        "requestedBy": requested_by.get_username() if requested_by is not None else None,
        "startedAt": iso_or_none(pull.started_at),
        "finishedAt": iso_or_none(pull.finished_at),
        "progress": pull.progress,
        "layers": [
            {"id": layer_id, "status": layer["status"], "currentBytes": layer["current"], "totalBytes": layer["total"]}
            for layer_id, layer in pull.layers.items()
        ],
    }


class RemoveImageRequestSerializer(StrictSerializer):
    image = serializers.CharField(
        max_length=validation.MAX_REFERENCE_LENGTH,
        help_text="A reference (untagged; the image goes with its last tag) or an image id.",
    )


class RemoveImageResponseSerializer(serializers.Serializer):
    deleted = serializers.ListField(child=serializers.CharField(), help_text="Image and layer ids deleted.")
    untagged = serializers.ListField(child=serializers.CharField())
    spaceFreedBytes = serializers.IntegerField()


class PruneImagesRequestSerializer(StrictSerializer):
    unused = serializers.BooleanField(
        required=False, default=False, help_text="Every image no container uses, not only the dangling ones."
    )
    labels = optional_list(KeyValueSerializer(), MAX_LABELS, help_text="Only images carrying all these labels.")


class PruneImagesResponseSerializer(serializers.Serializer):
    deleted = serializers.ListField(child=serializers.CharField(), help_text="Image and layer ids deleted.")
    spaceFreedBytes = serializers.IntegerField()


class MountSerializer(serializers.Serializer):
    # The stubs type Serializer.source (a Field attribute); a declared field of that name is fine in DRF.
    source = serializers.CharField()  # type: ignore[assignment]
    destination = serializers.CharField()
    readOnly = serializers.BooleanField()


class InspectedContainerSerializer(serializers.Serializer):
    """One container as inspect shows it."""

    # Written by inspected_container_json below.

    id = serializers.CharField()
    name = serializers.CharField()
    image = serializers.CharField()
    imageId = serializers.CharField()
    status = serializers.CharField()
    exitCode = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    oomKilled = serializers.BooleanField()
    restartCount = serializers.IntegerField()
    createdAt = serializers.DateTimeField(allow_null=True)
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)
    command = serializers.ListField(child=serializers.CharField())
    envs = KeyValueSerializer(many=True)
    labels = KeyValueSerializer(many=True)
    ports = InspectedPortSerializer(many=True)
    mounts = MountSerializer(many=True)
    gpuEnabled = serializers.BooleanField()
    resources = ResourcesSerializer()
    network = NetworkSerializer()


def inspected_container_json(details: ContainerDetails) -> dict:
    """An inspect in InspectedContainerSerializer's shape; envs as `details` holds them (selectors.container_details
    masks them for those who may not read them)."""
    summary = details.summary
    return {
        "id": summary.id,
        "name": summary.name,
        "image": summary.image,
        "imageId": summary.image_id,
        "status": summary.state,
        "exitCode": details.exit_code,
        "error": details.error,
        "oomKilled": details.oom_killed,
        "restartCount": details.restart_count,
        "createdAt": iso_or_none(summary.created_at),
        "startedAt": iso_or_none(details.started_at),
        "finishedAt": iso_or_none(details.finished_at),
        "command": list(details.command),
        "envs": key_values_as_json(details.envs),
        "labels": key_values_as_json(summary.labels.items()),
        "ports": ports_as_json(summary.ports),
        "mounts": list(details.mounts),
        "gpuEnabled": details.gpu_enabled,
        "resources": {
            "cpus": details.cpus or None,
            "memoryBytes": details.memory_bytes or None,
            "pidsLimit": details.pids_limit or None,
        },
        "network": network_json(
            mode=summary.network_mode, ip_address=summary.ip_address, mac_address=summary.mac_address
        ),
    }
