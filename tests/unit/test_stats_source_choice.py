"""CONTAINERSVC_STATS_SOURCE=auto: the collector's choice between the cgroup files and the engine's stats, on
cgroup trees written here. The engine is faked at its boundary (its address, its list): no engine is reached."""

from pathlib import Path

import pytest

from containersvc import engine
from containersvc.engine import EngineContainer
from containersvc.errors import EngineUnavailable
from containersvc.producers.stats_collector import SOURCE_CGROUP, SOURCE_ENGINE, StatsCollector

ID = "a" * 64
OTHER = "b" * 64
UNIX = "unix:///var/run/docker.sock"


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def v2_tree(root: Path, container_id: str) -> Path:
    """The unified hierarchy, one container's cgroup in the systemd driver's layout."""
    _write(root, {"cgroup.controllers": "cpuset cpu io memory pids\n"})
    _write(root / "system.slice" / f"docker-{container_id}.scope", {"cpu.stat": "usage_usec 1\n"})
    return root


def v1_tree(root: Path, container_id: str) -> Path:
    """One hierarchy per controller, cpu and cpuacct mounted together, the cgroupfs driver's layout."""
    _write(root / "cpu,cpuacct" / "docker" / container_id, {"cpuacct.usage": "1\n"})
    _write(root / "memory" / "docker" / container_id, {"memory.usage_in_bytes": "1\n"})
    return root


TREES = {"v2": v2_tree, "v1": v1_tree}


def running(container_id: str) -> EngineContainer:
    return EngineContainer(
        id=container_id, names=("c",), image="i", image_id="sha256:i", state="running", status="Up", labels={},
        ports=(), created_at=None, network_mode="none", ip_address="", mac_address="", volumes=(),
    )  # fmt: skip


@pytest.fixture
def engine_lists(monkeypatch):
    """The engine's container list as the test sets it (`answer`: containers, or an error to raise); `asked`
    counts the calls. Unset, a list is a failure: the branch must not ask."""

    class Listing:
        answer: list[EngineContainer] | Exception | None = None
        asked = 0

    def container_list(**_filters):
        Listing.asked += 1
        if Listing.answer is None:
            pytest.fail("the engine's list was asked for")
        if isinstance(Listing.answer, Exception):
            raise Listing.answer
        return Listing.answer

    monkeypatch.setattr(engine, "container_list", container_list)
    return Listing


@pytest.fixture
def choose(settings, engine_lists):
    """A new collector's choice (it decides once) with the settings given."""

    def choice(*, root: Path, address: str = UNIX, setting: str = "auto") -> str:
        settings.CONTAINERSVC_STATS_SOURCE = setting
        settings.CONTAINERSVC_CGROUP_ROOT = str(root)
        settings.CONTAINERSVC_DOCKER_HOST = address
        collector = StatsCollector()
        chosen = collector.choose_source()
        assert collector.source == chosen
        return chosen

    return choice


def test_no_cgroup_tree_takes_the_engine(choose, engine_lists, tmp_path):
    assert choose(root=tmp_path) == SOURCE_ENGINE  # an empty directory: neither v1 nor v2
    assert engine_lists.asked == 0


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("address", ["tcp://127.0.0.1:2375", "ssh://user@127.0.0.1"])
def test_an_engine_not_on_a_unix_socket_is_on_another_host_whatever_the_tree(
    choose, engine_lists, tmp_path, tree, address
):
    root = TREES[tree](tmp_path, ID)
    assert choose(root=root, address=address) == SOURCE_ENGINE
    assert engine_lists.asked == 0


@pytest.mark.parametrize("tree", TREES)
def test_a_local_engine_whose_containers_have_their_cgroups_in_the_tree_takes_the_files(
    choose, engine_lists, tmp_path, tree
):
    engine_lists.answer = [running(ID)]
    assert choose(root=TREES[tree](tmp_path, ID)) == SOURCE_CGROUP
    assert engine_lists.asked == 1


@pytest.mark.parametrize("tree", TREES)
def test_a_local_engine_whose_containers_are_not_in_the_tree_takes_the_engine(choose, engine_lists, tmp_path, tree):
    # This process in a container of its own: a cgroup tree, but not the engine's (another engine's cgroups).
    engine_lists.answer = [running(OTHER)]
    assert choose(root=TREES[tree](tmp_path, ID)) == SOURCE_ENGINE
    assert engine_lists.asked == 1


@pytest.mark.parametrize(
    ("answer", "why"),
    [([], "no running container to compare with"), (EngineUnavailable("no engine"), "the engine does not answer")],
)
def test_with_nothing_to_compare_the_files_are_taken(choose, engine_lists, tmp_path, answer, why):
    engine_lists.answer = answer
    assert choose(root=v2_tree(tmp_path, ID)) == SOURCE_CGROUP, why


@pytest.mark.parametrize(("setting", "expected"), [("engine", SOURCE_ENGINE), ("cgroup", SOURCE_CGROUP)])
def test_a_forced_source_is_taken_without_looking(choose, engine_lists, tmp_path, setting, expected):
    assert choose(root=v2_tree(tmp_path, OTHER), setting=setting) == expected
    assert choose(root=tmp_path / "nothing", address="tcp://127.0.0.1:2375", setting=setting) == expected
    assert engine_lists.asked == 0
