"""The changes-only stats stream: what a socket sends after its first whole message, rounded as shown."""

from containersvc.stats_changes import StatsChanges, round_percent, round_significant, row_as_sent

NODE = {
    "cpuPercent": 12.34,
    "cpuPercentPerCore": [20.01, 4.66],
    "load": {"one": 0.4, "five": 0.3, "fifteen": 0.2},
    "memoryTotalBytes": 25275023360,
    "memoryAvailableBytes": 24700000123,
}


def row(container_id: str, **values) -> dict:
    return {
        "containerId": container_id,
        "name": container_id,
        "takenAt": "2026-11-30T10:40:00.5+00:00",
        "cpuPercent": 0.0,
        "memoryBytes": 1048576,
        "memoryPercent": 0.01,
        "netRxBytesPerSecond": 0.0,
        "pids": 1,
        **values,
    }


def test_values_are_rounded_to_what_is_shown():
    assert round_percent(99.66) == 99.7
    assert round_percent(None) is None
    assert round_significant(1234567) == 1230000
    assert round_significant(12.34) == 12
    assert round_significant(0.4) == 0
    assert round_significant(0) == 0
    assert round_significant(None) is None


def test_the_first_message_is_whole_without_the_rows_own_time():
    message = StatsChanges().message(taken_at="t1", node=NODE, rows=[row("a"), row("b")])
    assert message["type"] == "stats.changes" and message["full"] is True and message["takenAt"] == "t1"
    assert [r["containerId"] for r in message["stats"]] == ["a", "b"]
    assert "takenAt" not in message["stats"][0] and message["stats"][0]["pids"] == 1
    assert message["stats"][0]["memoryBytes"] == 1050000
    assert message["node"]["cpuPercent"] == 12.3 and message["node"]["cpuPercentPerCore"] == [20.0, 4.7]
    assert message["gone"] == []


def test_later_messages_hold_only_changed_fields_of_changed_containers_and_the_gone():
    changes = StatsChanges()
    changes.message(taken_at="t1", node=NODE, rows=[row("busy"), row("idle"), row("stops")])
    later = changes.message(
        taken_at="t2",
        node={**NODE, "cpuPercent": 50.0, "memoryAvailableBytes": 24700000999},  # the latter below what is shown
        rows=[
            row("busy", cpuPercent=99.6, takenAt="t2"),
            row("idle", cpuPercent=0.04, memoryBytes=1048577, takenAt="t2"),  # noise below what is shown
            row("new"),
        ],
    )
    assert later["full"] is False and later["takenAt"] == "t2"
    assert later["stats"] == [{"containerId": "busy", "cpuPercent": 99.6}, row_as_sent(row("new"))]
    assert later["node"] == {"cpuPercent": 50.0}
    assert later["gone"] == ["stops"]
    quiet = changes.message(taken_at="t3", node={**NODE, "cpuPercent": 50.0}, rows=[row("busy", cpuPercent=99.6)])
    assert quiet["stats"] == [] and quiet["node"] == {} and sorted(quiet["gone"]) == ["idle", "new"]


def test_a_value_that_goes_back_to_none_is_sent():
    changes = StatsChanges()
    changes.message(taken_at="t1", node=NODE, rows=[row("a", cpuPercent=5.0)])
    later = changes.message(taken_at="t2", node=NODE, rows=[row("a", cpuPercent=None)])
    assert later["stats"] == [{"containerId": "a", "cpuPercent": None}]
