"""Error messages name no host paths or internal addresses (containersvc/redaction.py), whoever raises them."""

import pytest

from containersvc.errors import EngineError, InvalidRequest
from containersvc.redaction import without_host_details


@pytest.fixture
def roots(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.BUILD_ROOT = tmp_path / "data" / "builds"
    return settings.DATA_DIR, settings.BUILD_ROOT


def test_a_keep_directory_is_shown_under_the_data_dir_placeholder(roots):
    data, _ = roots
    message = (
        f'error mounting "{data}/keeps/web/bin_busybox-720be4f35d" to rootfs at "/bin/busybox": '
        f"mount {data}/keeps/web/bin_busybox-720be4f35d:/bin/busybox (via /proc/self/fd/6): not a directory"
    )

    shown = without_host_details(message)

    assert str(data) not in shown
    assert shown == (
        'error mounting "<data dir>/keeps/web/bin_busybox-720be4f35d" to rootfs at "/bin/busybox": '
        "mount <data dir>/keeps/web/bin_busybox-720be4f35d:/bin/busybox (via /proc/self/fd/6): not a directory"
    )


def test_build_root_paths_become_the_callers_relative_paths(roots):
    _, builds = roots

    assert without_host_details(f"cannot read {builds}/app/Dockerfile: denied") == "cannot read app/Dockerfile: denied"
    assert without_host_details(f'context "{builds}" is empty') == 'context "." is empty'


def test_a_sibling_of_a_root_is_not_taken_for_it(roots):
    data, _ = roots
    assert without_host_details(f"{data}2/x") == f"{data}2/x"


def test_the_engines_own_directories_are_hidden():
    message = (
        'mounting "/var/lib/docker/overlay2/4f1e/merged/x" failed; shim at /run/containerd/io.containerd.runtime.v2'
        ".task/moby/abc/log.json; socket unix:///var/run/docker.sock"
    )

    shown = without_host_details(message)

    assert "/var/lib/docker" not in shown and "/run/containerd" not in shown
    assert shown.endswith("socket unix:///var/run/docker.sock")  # the engine's address is the API's to tell
    assert without_host_details("/usr/lib/docker/cli-plugins") == "/usr/lib/docker/cli-plugins"


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            'Get "https://nosuch.invalid/v2/": dial tcp: lookup nosuch.invalid on 10.0.0.2:53: no such host',
            'Get "https://nosuch.invalid/v2/": dial tcp: lookup nosuch.invalid: no such host',
        ),
        (
            "dial tcp: lookup registry.example on [fd00::1]:53: server misbehaving",
            "dial tcp: lookup registry.example: server misbehaving",
        ),
        (
            "read udp 172.17.0.1:41234->192.168.1.1:53: i/o timeout",
            "read udp <resolver>: i/o timeout",
        ),
        (
            "dial udp 192.168.1.1:53: connect: network is unreachable",
            "dial udp <resolver>: connect: network is unreachable",
        ),
        ("dial tcp 127.0.0.1:5300: connection refused", "dial tcp 127.0.0.1:5300: connection refused"),
    ],
)
def test_the_hosts_resolver_is_never_named(message, shown):
    assert without_host_details(message) == shown


def test_every_error_of_the_tree_is_redacted(roots):
    data, builds = roots

    assert str(data) not in EngineError(f"failed at {data}/keeps/x").message
    assert InvalidRequest(f"{builds}/ctx is bad").message == "ctx is bad"
    assert InvalidRequest().message == InvalidRequest.default_message
