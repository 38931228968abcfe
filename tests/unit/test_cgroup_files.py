"""The cgroup and /proc readers on files written here in the kernel's documented formats (no engine)."""

import os
from pathlib import Path

import pytest

from containersvc import cgroups
from containersvc.cgroups import CgroupUnreadable, CgroupVersion

ID = "a" * 64
OTHER = "b" * 64

# Documentation/admin-guide/cgroup-v2.rst: cpu.stat, memory.stat (flat keyed), io.stat (nested keyed).
V2_CPU_STAT = "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\nnr_throttled 0\n"
V2_MEMORY_STAT = (
    "anon 52428800\nfile 20971520\nkernel 1048576\nshmem 0\nactive_anon 52428800\ninactive_anon 0\n"
    "active_file 4194304\ninactive_file 16777216\nunevictable 0\n"
)
V2_IO_STAT = (
    "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
    "8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n"
)


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def _read_held(files: cgroups.ContainerFiles) -> cgroups.ContainerCounters:
    """One read through held files (this process's net/dev), closed after."""
    held = cgroups.HeldCounters(files, pid=os.getpid())
    try:
        counters, _ = held.read()
    finally:
        held.close()
    return counters


@pytest.fixture
def v2_root(tmp_path) -> Path:
    _write(tmp_path, {"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n"})
    _write(
        tmp_path / "docker" / ID,
        {
            "cpu.stat": V2_CPU_STAT,
            "memory.current": "73400320\n",
            "memory.max": "max\n",
            "memory.stat": V2_MEMORY_STAT,
            "io.stat": V2_IO_STAT,
            "pids.current": "7\n",
        },
    )
    # The systemd driver's layout, with a limit.
    _write(
        tmp_path / "system.slice" / f"docker-{OTHER}.scope",
        {
            "cpu.stat": "usage_usec 10\n",
            "memory.current": "4096\n",
            "memory.max": "134217728\n",
            "memory.stat": "inactive_file 0\n",
            "pids.current": "1\n",
        },
    )
    (tmp_path / "docker" / "not-a-container").mkdir()
    return tmp_path


def test_v2_is_detected_and_containers_are_listed_in_both_layouts(v2_root):
    assert cgroups.detect_version(v2_root) == CgroupVersion.V2
    assert sorted(cgroups.running_container_ids(root=v2_root, version=CgroupVersion.V2)) == [ID, OTHER]


def test_v2_counters_are_read_as_the_kernel_documents_them(v2_root):
    counters = cgroups.container_counters(root=v2_root, version=CgroupVersion.V2, container_id=ID)
    assert counters.cpu_usage_ns == 2_500_000_000
    assert counters.memory_usage_bytes == 73400320
    assert counters.memory_inactive_file_bytes == 16777216
    assert counters.memory_limit_bytes is None
    assert counters.blk_read_bytes == 1459200 + 90430464
    assert counters.blk_write_bytes == 314773504 + 299008000
    assert counters.pids == 7


def test_v2_systemd_scope_with_a_limit_and_no_io_controller(v2_root):
    counters = cgroups.container_counters(root=v2_root, version=CgroupVersion.V2, container_id=OTHER)
    assert counters.memory_limit_bytes == 134217728
    assert (counters.blk_read_bytes, counters.blk_write_bytes) == (0, 0)


def test_a_missing_cgroup_is_unreadable(v2_root):
    with pytest.raises(CgroupUnreadable):
        cgroups.container_counters(root=v2_root, version=CgroupVersion.V2, container_id="c" * 64)


def test_v1_tree(tmp_path):
    memory = tmp_path / "memory" / "docker" / ID
    _write(tmp_path / "cpuacct" / "docker" / ID, {"cpuacct.usage": "483864554\n"})
    _write(
        memory,
        {
            "memory.usage_in_bytes": "67878912\n",
            "memory.limit_in_bytes": "9223372036854771712\n",
            "memory.stat": "cache 67117056\nrss 53248\ninactive_file 4096\ntotal_inactive_file 8192\n",
        },
    )
    _write(
        tmp_path / "blkio" / "docker" / ID,
        {
            "blkio.throttle.io_service_bytes_recursive": (
                "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 12288\n"
                "8:16 Read 1\n8:16 Write 2\nTotal 12291\n"
            )
        },
    )
    _write(tmp_path / "pids" / "docker" / ID, {"pids.current": "3\n"})
    assert cgroups.detect_version(tmp_path) == CgroupVersion.V1
    assert cgroups.running_container_ids(root=tmp_path, version=CgroupVersion.V1) == [ID]
    counters = cgroups.container_counters(root=tmp_path, version=CgroupVersion.V1, container_id=ID)
    assert counters.cpu_usage_ns == 483864554
    assert counters.memory_usage_bytes == 67878912
    assert counters.memory_inactive_file_bytes == 8192  # total_, as docker stats uses on v1
    assert counters.memory_limit_bytes is None  # the kernel's "no limit"
    assert (counters.blk_read_bytes, counters.blk_write_bytes) == (4097, 8194)
    assert counters.pids == 3


def test_no_cgroup_tree(tmp_path):
    assert cgroups.detect_version(tmp_path) == CgroupVersion.NONE
    assert cgroups.running_container_ids(root=tmp_path, version=CgroupVersion.NONE) == []


def test_net_dev_sums_interfaces_but_loopback():
    text = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls"
        " carrier compressed\n"
        "    lo:    4181      43    0    0    0     0          0         0     4181      43    0    0    0     0"
        "       0          0\n"
        "  eth0: 1000       8    0    0    0     0          0         0      200       4    0    0    0     0"
        "       0          0\n"
        "  eth1:   10       1    0    0    0     0          0         0       20       1    0    0    0     0"
        "       0          0\n"
    )
    net = cgroups.parse_net_dev(text)
    assert (net.rx_bytes, net.tx_bytes) == (1010, 220)


def test_proc_stat_and_meminfo():
    cpu, per_cpu = cgroups.parse_proc_stat(
        "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1\n"
    )
    assert (cpu.busy, cpu.total) == (150, 1000)  # idle and iowait are not busy
    assert len(per_cpu) == 2
    total, available = cgroups.parse_meminfo("MemTotal:  1000 kB\nMemFree:  10 kB\nMemAvailable:  600 kB\n")
    assert (total, available) == (1024000, 614400)


def test_held_files_read_what_a_fresh_read_reads_and_follow_changes(v2_root):
    files = cgroups.container_files(root=v2_root, version=CgroupVersion.V2, container_id=ID)
    held = cgroups.HeldCounters(files, pid=os.getpid())  # any live process has a net/dev to hold
    try:
        before = cgroups.net_counters(pid=os.getpid())
        counters, net = held.read()
        after = cgroups.net_counters(pid=os.getpid())
        assert counters == cgroups.read_counters(files)
        assert before.rx_bytes <= net.rx_bytes <= after.rx_bytes  # this host's own traffic goes on meanwhile
        # The kernel writes a counter's text afresh at each read; a rewritten file stands in for that here.
        (v2_root / "docker" / ID / "cpu.stat").write_text(
            V2_CPU_STAT.replace("usage_usec 2500000", "usage_usec 3500000")
        )
        (v2_root / "docker" / ID / "memory.max").write_text("268435456\n")
        counters, _ = held.read()
        assert counters.cpu_usage_ns == 3_500_000_000 and counters.memory_limit_bytes == 268435456
    finally:
        held.close()


def test_held_files_of_a_v1_cgroup_without_blkio_or_pids(tmp_path):
    _write(tmp_path / "cpuacct" / "docker" / ID, {"cpuacct.usage": "483864554\n"})
    _write(
        tmp_path / "memory" / "docker" / ID,
        {
            "memory.usage_in_bytes": "67878912\n",
            "memory.limit_in_bytes": "134217728\n",
            "memory.stat": "cache 67117056\ntotal_cache 1\ninactive_file 4096\ntotal_inactive_file 8192\n",
        },
    )
    files = cgroups.container_files(root=tmp_path, version=CgroupVersion.V1, container_id=ID)
    counters = _read_held(files)
    assert counters == cgroups.read_counters(files)
    assert (counters.memory_inactive_file_bytes, counters.memory_limit_bytes, counters.pids) == (8192, 134217728, 0)


def test_held_files_need_the_cgroup_and_the_process(v2_root):
    files = cgroups.container_files(root=v2_root, version=CgroupVersion.V2, container_id=ID)
    (v2_root / "docker" / ID / "memory.stat").unlink()
    with pytest.raises(CgroupUnreadable):
        cgroups.HeldCounters(files, pid=os.getpid())
    (v2_root / "docker" / ID / "memory.stat").write_text(V2_MEMORY_STAT)
    with pytest.raises(CgroupUnreadable):
        cgroups.HeldCounters(files, pid=2**22 + 1)  # above the kernel's pid_max: no such process


def test_a_long_file_is_read_whole(tmp_path):
    many = "".join(f"8:{minor} rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n" for minor in range(200))
    assert len(many) > cgroups.READ_SIZE
    _write(tmp_path, {"cgroup.controllers": "cpu io memory pids\n"})
    _write(
        tmp_path / "docker" / ID,
        {"cpu.stat": V2_CPU_STAT, "memory.current": "1\n", "memory.max": "max\n", "memory.stat": "", "io.stat": many},
    )
    files = cgroups.container_files(root=tmp_path, version=CgroupVersion.V2, container_id=ID)
    counters = _read_held(files)
    assert (counters.blk_read_bytes, counters.blk_write_bytes) == (200, 400)


def test_a_containers_process_is_read_from_its_cgroup_the_lowest_pid_first(v2_root):
    """The collector's first round finds each container's network namespace here, not by inspecting it."""
    _write(v2_root / "docker" / ID, {"cgroup.procs": "4242\n311\n5000\n"})
    files = cgroups.container_files(root=v2_root, version=CgroupVersion.V2, container_id=ID)

    assert cgroups.container_pid(files) == 311

    _write(v2_root / "docker" / ID, {"cgroup.procs": ""})
    assert cgroups.container_pid(files) == 0  # it stopped: no process left


def test_a_v1_containers_process_is_read_from_its_memory_cgroup(tmp_path):
    _write(tmp_path / "cpuacct" / "docker" / ID, {"cpuacct.usage": "1\n"})
    _write(tmp_path / "memory" / "docker" / ID, {"cgroup.procs": "77\n"})
    files = cgroups.container_files(root=tmp_path, version=CgroupVersion.V1, container_id=ID)

    assert cgroups.container_pid(files) == 77


# --- an idle container: what is read again, and how soon ------------------------------------------------------
NET_DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls"
    " carrier compressed\n"
    "  eth0: {rx}       8    0    0    0     0          0         0      200       4    0    0    0     0"
    "       0          0\n"
)


@pytest.fixture
def idle_held(v2_root, tmp_path, monkeypatch):
    """Held files of the v2 container, with a net/dev of its own (this host's traffic would move the real one)."""
    monkeypatch.setattr(cgroups, "PROC", tmp_path / "proc")
    _write(tmp_path / "proc" / "4242" / "net", {"dev": NET_DEV.format(rx=1000)})
    files = cgroups.container_files(root=v2_root, version=CgroupVersion.V2, container_id=ID)
    held = cgroups.HeldCounters(files, pid=4242)
    yield held
    held.close()


@pytest.mark.parametrize(
    ("name", "text", "read"),
    [
        # A `docker update --memory` changes the limit while nothing runs in the container.
        ("memory.max", "268435456\n", lambda counters: counters.memory_limit_bytes),
        # The kernel reclaims or swaps out an idle container's memory: its usage falls with nothing running.
        ("memory.current", "1048576\n", lambda counters: counters.memory_usage_bytes),
    ],
)
def test_what_changes_in_an_idle_container_is_read_again_within_the_bound(idle_held, v2_root, name, text, read):
    before = read(idle_held.read()[0])
    (v2_root / "docker" / ID / name).write_text(text)

    values = [read(idle_held.read()[0]) for _ in range(cgroups.FULL_READ_EVERY)]

    assert values[0] == before  # idle: the file is not read every time
    assert values[-1] == int(text) != before  # but within FULL_READ_EVERY reads


def _cpu_moved_by(v2_root, microseconds: int) -> None:
    usage = f"usage_usec {2_500_000 + microseconds}"
    (v2_root / "docker" / ID / "cpu.stat").write_text(V2_CPU_STAT.replace("usage_usec 2500000", usage))


def test_cpu_time_moving_by_a_millisecond_reads_every_file_again(idle_held, v2_root):
    idle_held.read()
    (v2_root / "docker" / ID / "memory.max").write_text("268435456\n")
    (v2_root / "docker" / ID / "memory.current").write_text("73404416\n")
    (v2_root / "docker" / ID / "pids.current").write_text("9\n")
    _cpu_moved_by(v2_root, cgroups.QUIET_CPU_NS // 1000)

    counters, _ = idle_held.read()

    assert (counters.memory_limit_bytes, counters.memory_usage_bytes, counters.pids) == (268435456, 73404416, 9)


def test_a_quiet_container_gets_its_cpu_time_as_read_now_and_the_rest_as_last_read(idle_held, v2_root):
    """A wake-up now and then (an init's reaping loop) keeps a container quiet: its CPU time is read each time."""
    before, _ = idle_held.read()
    (v2_root / "docker" / ID / "memory.current").write_text("73404416\n")
    _cpu_moved_by(v2_root, cgroups.QUIET_CPU_NS // 1000 - 1)

    counters, _ = idle_held.read()

    assert counters.cpu_usage_ns == before.cpu_usage_ns + cgroups.QUIET_CPU_NS - 1000
    assert counters.memory_usage_bytes == before.memory_usage_bytes != 73404416


def test_moving_network_bytes_read_every_file_again(idle_held, v2_root, tmp_path):
    idle_held.read()
    (v2_root / "docker" / ID / "io.stat").write_text("8:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n")
    (tmp_path / "proc" / "4242" / "net" / "dev").write_text(NET_DEV.format(rx=1500))

    counters, net = idle_held.read()

    assert net.rx_bytes == 1500
    assert (counters.blk_read_bytes, counters.blk_write_bytes) == (1, 2)
