"""Each rule of the run request and of a pull's shape exists once: the grammar in validation.py, the limits in
services/run_spec.py, the pull's writer beside its serializer; the API's serializer fields and the socket use them."""

import os
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator

from containersvc import engine, validation
from containersvc.api import serializers as api
from containersvc.engine import types
from containersvc.errors import InvalidRequest
from containersvc.models import ImagePull
from containersvc.producers import groups
from containersvc.services import builds, run_spec
from containersvc.services.run_spec import RunSpecInvalid, run_spec_parse
from tests.openapi_drift import component, drift


@pytest.mark.parametrize("value", ["", "a", "v1.2:sha256+x=y/z-_", "h" * validation.MAX_HASH_LENGTH])
def test_a_hash_of_the_grammar_is_taken(value):
    assert validation.run_hash(value) == value


@pytest.mark.parametrize("value", ["a b", "abc\n", "é", "h" * (validation.MAX_HASH_LENGTH + 1)])
def test_a_hash_outside_the_grammar_is_refused(value):
    with pytest.raises(InvalidRequest) as raised:
        validation.run_hash(value)

    assert raised.value.message == "hash may hold letters, digits and _.:+=/- (at most 255)."


@pytest.mark.parametrize("value", ["0", "GPU-8f3a2c1e-0000-1111-2222-333344445555", "g" * 64])
def test_a_gpu_id_of_the_grammar_is_taken(value):
    assert validation.gpu_id(value) == value


@pytest.mark.parametrize("value", ["", "0\n", "0,1", "g" * 65])
def test_a_gpu_id_outside_the_grammar_is_refused(value):
    with pytest.raises(InvalidRequest) as raised:
        validation.gpu_id(value)

    assert raised.value.message == "A GPU is given by its index or UUID (letters, digits and '-')."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hash": "abc\n"}, "hash: hash may hold letters, digits and _.:+=/- (at most 255)."),
        ({"capabilities": {"gpuIds": ["0", "1\n"]}}, "capabilities: gpuIds: A GPU is given by its index or UUID"),
        ({"capabilities": {"gpuCount": run_spec.MAX_GPU_COUNT + 1}}, "capabilities: gpuCount: gpuCount is a number"),
    ],
)
def test_the_run_spec_refuses_with_the_grammars_messages(data, message):
    with pytest.raises(RunSpecInvalid) as raised:
        run_spec_parse(data={"image": "app", **data})

    assert raised.value.message.startswith(message)


def test_the_run_spec_keeps_a_hash_and_gpu_ids_of_the_grammar():
    spec = run_spec_parse(data={"image": "app", "hash": "v1", "capabilities": {"gpuIds": ["0", "GPU-ab"]}})

    assert (spec.hash, spec.gpu_device_ids, spec.gpu_enabled) == ("v1", ("0", "GPU-ab"), True)


def _pattern(field) -> object:
    (regex,) = [validator.regex for validator in field.validators if hasattr(validator, "regex")]
    return regex


def test_the_serializer_fields_declare_the_one_definition_of_each_rule():
    request = api.RunContainerRequestSerializer()
    capabilities = request.fields["capabilities"]

    assert _pattern(request.fields["hash"]) == validation.RUN_HASH
    assert request.fields["hash"].max_length == validation.MAX_HASH_LENGTH
    assert _pattern(capabilities.fields["gpuIds"].child) == validation.GPU_ID
    assert capabilities.fields["gpuIds"].max_length == run_spec.MAX_GPU_IDS
    assert capabilities.fields["gpuCount"].max_value == run_spec.MAX_GPU_COUNT
    assert request.fields["command"].child.max_length == run_spec.MAX_COMMAND_ARG_CHARS


def test_the_document_shows_the_fields_pattern_and_maximum():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    run, capabilities = schemas["RunContainerRequest"]["properties"], schemas["Capabilities"]["properties"]

    hash_given = run["hash"]["oneOf"][0]  # the other: blank
    assert (hash_given["pattern"], hash_given["maxLength"]) == ("^[A-Za-z0-9_.:+=/-]*$", 255)
    assert capabilities["gpuIds"]["items"]["pattern"] == "^[A-Za-z0-9-]{1,64}$"
    assert capabilities["gpuCount"]["maximum"] == 64
    assert run["command"]["items"]["maxLength"] == 4096


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"image": "app", "hash": "a b"}, "This value does not match the required pattern."),
        ({"image": "app", "capabilities": {"gpuIds": ["0,1"]}}, "This value does not match the required pattern."),
        ({"image": "app", "capabilities": {"gpuCount": 65}}, "Ensure this value is less than or equal to 64."),
    ],
)
def test_the_serializer_refuses_what_its_fields_declare(data, error):
    serializer = api.RunContainerRequestSerializer(data=data)

    assert not serializer.is_valid()
    assert error in str(serializer.errors)


@pytest.mark.parametrize(
    ("serializer_class", "data", "field"),
    [
        (api.PullImageRequestSerializer, {"image": "UPPER CASE"}, "image"),
        (api.BuildImageRequestSerializer, {"name": "UPPER CASE", "contextPath": "ctx"}, "name"),
    ],
)
def test_an_image_reference_is_a_field_error_with_the_grammars_message(serializer_class, data, field):
    serializer = serializer_class(data=data)

    assert not serializer.is_valid()
    assert [str(error) for error in serializer.errors[field]] == [
        validation.MESSAGE_IMAGE_INVALID.format(value="UPPER CASE")
    ]


def a_pull() -> ImagePull:
    return ImagePull(
        pk=7, node_id="node", image="app:1", status="running", message="Pulling", error="", note="then run",
        requested_by=User(pk=3, username="ann"), started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        finished_at=None, layers={"a" * 12: {"status": "Downloading", "current": 5, "total": 10}},
    )  # fmt: skip


def test_a_pull_is_written_as_it_was_beside_its_serializer():
    assert api.image_pull_json(a_pull()) == {
        "id": 7,
        "image": "app:1",
        "status": "running",
        "message": "Pulling",
        "error": "",
        "note": "then run",
        "requestedBy": "ann",
        "startedAt": "2026-01-02T03:04:05+00:00",
        "finishedAt": None,
        "progress": {"layers": 1, "layersDone": 0, "currentBytes": 5, "totalBytes": 10},
        "layers": [{"id": "a" * 12, "status": "Downloading", "currentBytes": 5, "totalBytes": 10}],
    }
    assert api.image_pull_json(ImagePull(pk=8, image="app:2"))["requestedBy"] is None


def test_the_socket_and_the_api_send_the_declared_pull_shape():
    pull = a_pull()
    document = SchemaGenerator().get_schema(request=None, public=True)

    assert groups.pull_payload(pull) == api.image_pull_json(pull)
    assert drift(document, component("ImagePull"), api.image_pull_json(pull), "ImagePull") == []


def test_a_process_alive_is_public_and_this_process_is_not_an_orphans_runner():
    assert not builds.process_alive(None)
    assert not builds.process_alive(os.getpid())
    assert builds.process_alive(os.getppid())


def test_stats_counters_is_an_engine_name():
    assert engine.StatsCounters is types.StatsCounters
