"""The egress rule: which addresses the service and the engine may be sent to (no engine, no network)."""

import ipaddress

import pytest

from containersvc import egress
from containersvc.errors import InvalidRequest


@pytest.fixture
def made_up_names():
    """Made-up names with chosen answers, as a resolver at the module boundary would give them."""
    answers: dict[str, list[str]] = {}

    def resolve(host: str) -> list[str]:
        if host not in answers:
            raise OSError(f"no address for {host}")
        return answers[host]

    egress.set_resolver(resolve)
    yield answers
    egress.set_resolver(None)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",  # noqa: S104
        "100.64.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
        "fc00::1", "fd12::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2001:db8::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address):
    assert not egress.address_is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert egress.address_is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "registry", ["localhost", "localhost:5000", "127.1", "0x7f.1:80", "2130706433:443", "[::1]:5000", "127.0.0.1:80"]
)
def test_loopback_registries_are_refused_as_resolved_not_only_as_written(settings, registry):
    settings.CONTAINERSVC_ALLOWED_REGISTRIES = []

    with pytest.raises(InvalidRequest, match="non-public address") as refused:
        egress.egress_check_registry(registry)

    assert f"registry host '{registry}'" in refused.value.message
    assert "CONTAINERSVC_ALLOWED_REGISTRIES" in refused.value.message


def test_a_name_resolving_to_a_private_address_is_refused(settings, made_up_names):
    settings.CONTAINERSVC_ALLOWED_REGISTRIES = []
    made_up_names["registry.example.test"] = ["93.184.216.34", "10.0.0.7"]
    made_up_names["metadata.example.test"] = ["169.254.169.254"]

    with pytest.raises(InvalidRequest, match=r"\(10\.0\.0\.7\)"):
        egress.egress_check_registry("registry.example.test:5000")
    with pytest.raises(InvalidRequest, match="non-public"):
        egress.egress_check_url("http://metadata.example.test/latest/meta-data/", what="webhook")


def test_allowed_registries_and_the_default_registry_pass_unresolved(settings):
    settings.CONTAINERSVC_ALLOWED_REGISTRIES = ["127.0.0.1:5000", "Registry.Internal:443"]

    egress.egress_check_registry("127.0.0.1:5000")
    egress.egress_check_registry("registry.internal:443")
    egress.egress_check_registry(None)
    with pytest.raises(InvalidRequest, match="non-public"):
        egress.egress_check_registry("127.0.0.1:5001")  # another port is another host


def test_an_unresolvable_host_says_so(settings, made_up_names):
    settings.CONTAINERSVC_ALLOWED_REGISTRIES = []

    with pytest.raises(egress.EgressUnresolvable, match="cannot be resolved"):
        egress.egress_check_registry("nowhere.example.test")


def test_a_checked_url_carries_the_address_to_connect_to_and_the_name_to_speak_to(made_up_names):
    made_up_names["assets.example.test"] = ["93.184.216.34"]

    target = egress.egress_check_url("https://assets.example.test:8443/models/a.bin?v=2", what="asset")

    assert (target.address, target.port, target.host) == ("93.184.216.34", 8443, "assets.example.test")
    assert target.host_header == "assets.example.test:8443"
    assert target.request_target == "/models/a.bin?v=2"
    assert egress.egress_check_url("http://assets.example.test/x").host_header == "assets.example.test"


@pytest.mark.parametrize("url", ["ftp://example.test/x", "file:///etc/passwd", "http://", "http://host:99999/x"])
def test_only_http_urls_are_accepted(url):
    with pytest.raises(InvalidRequest, match="must be an http or https URL"):
        egress.egress_check_url(url, what="asset")


def test_private_addresses_pass_when_allowed(made_up_names):
    made_up_names["assets.example.test"] = ["127.0.0.1"]

    assert egress.egress_check_url("http://assets.example.test/x", allow_private=True).address == "127.0.0.1"
