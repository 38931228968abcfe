"""The run request validated once (services.run_spec): what the API and the dashboard's form both call."""

import pytest

from containersvc.services.run_spec import RunSpecInvalid, run_spec_parse


def test_a_request_becomes_the_services_run_spec_with_its_image_parsed_once():
    spec = run_spec_parse(
        data={
            "image": "127.0.0.1:5000/team/app:1.2",
            "names": ["web"],
            "ports": [{"internal": 80, "host": 0}],
            "envs": [{"key": "A", "value": "1"}],
            "keeps": [{"path": "/data/../data", "readOnly": True}],
            "capabilities": {"gpuEnabled": False, "gpuCount": 2},
            "resources": {"cpus": 0.5},
        }
    )

    assert spec.reference is not None and spec.reference.registry == "127.0.0.1:5000"
    assert spec.image_reference() is spec.reference
    assert (spec.name, spec.ports, spec.envs, spec.keeps) == ("web", ((80, 0),), {"A": "1"}, (("/data", True),))
    assert spec.gpu_enabled and spec.gpu_count == 2 and spec.limits.nano_cpus == 500_000_000


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"image": "UPPER CASE"}, "image", "image"),
        ({"names": ["-bad"]}, "names", "name"),
        ({"ports": [{"internal": 80}, {"internal": 80}]}, "ports", "once"),
        ({"ports": [{"internal": 70000}]}, "ports", "65535"),
        ({"envs": [{"key": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]}, "envs", "not allowed"),
        ({"labels": [{"key": "containersvc.managed", "value": "x"}]}, "labels", "reserved"),
        ({"keeps": [{"path": "/a"}, {"path": "/a/"}]}, "keeps", "once"),
        ({"keeps": [{"path": "/proc/x"}]}, "keeps", "0: path: "),
        ({"assets": [{"envVarKey": "F", "url": "ftp://x.example/f"}]}, "assets", "http"),
        ({"capabilities": {"gpuCount": 1, "gpuIds": ["0"]}}, "capabilities", "not both"),
        ({"resources": {"pidsLimit": 0}}, "resources", "pidsLimit"),
        ({"hash": "a b"}, "hash", "hash"),
    ],
)
def test_a_value_not_allowed_names_its_field(data, field, fragment):
    with pytest.raises(RunSpecInvalid) as raised:
        run_spec_parse(data={"image": "app", **data})

    assert raised.value.field == field
    assert raised.value.message.startswith(f"{field}: ") and fragment in raised.value.message
