"""The engine describes one container two ways, in its list and in an inspect; the mirror's row is written from
both, so both must read the same wherever the row keeps a field, or each rewrites what the other wrote."""

import dataclasses

from containersvc.engine.parsing import container_from_list, details_from_inspect

ID = "c" * 64
LISTED = {
    "Id": ID,
    "Names": ["/web"],
    "Image": "img:1",
    "ImageID": "sha256:" + "a" * 64,
    "State": "running",
    "Status": "Up 3 minutes",
    "Labels": {"team": "x"},
    "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "127.0.0.1"}],
    "Created": 1796055135,  # the list gives whole seconds
    "HostConfig": {"NetworkMode": "bridge"},
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2", "MacAddress": "02:42:ac:11:00:02"}}},
    "Mounts": [{"Destination": "/data"}],
}
INSPECTED = {
    "Id": ID,
    "Name": "/web",
    "Image": "sha256:" + "a" * 64,
    "Created": "2026-11-30T16:12:15.040334123Z",  # the same moment, to the nanosecond
    "Config": {"Image": "img:1", "Labels": {"team": "x"}, "Env": []},
    "HostConfig": {"NetworkMode": "bridge"},
    "State": {"Status": "running", "Running": True, "Pid": 42},
    "NetworkSettings": {
        "Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
        "Networks": {"bridge": {"IPAddress": "172.17.0.2", "MacAddress": "02:42:ac:11:00:02"}},
    },
    "Mounts": [{"Destination": "/data"}],
}


def test_a_list_entry_and_an_inspect_of_one_container_agree_but_for_the_status_line():
    listed = container_from_list(LISTED)
    inspected = details_from_inspect(INSPECTED).summary

    differing = {
        field.name
        for field in dataclasses.fields(listed)
        if getattr(listed, field.name) != getattr(inspected, field.name)
    }

    assert differing == {"status"}  # "Up 3 minutes" against the inspect's "running"


def test_an_inspected_creation_time_is_kept_to_the_second_as_the_list_gives_it():
    created = details_from_inspect(INSPECTED).summary.created_at

    assert created is not None
    assert (created.microsecond, int(created.timestamp())) == (0, 1796055135)
