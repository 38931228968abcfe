"""The serving process's collector: what was loaded is frozen out of collections, the young generation is larger."""

import gc
import weakref

import pytest

from containersvc.heap import YOUNG_GENERATION_OBJECTS, heap_settle


@pytest.fixture
def collector_restored():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settling_freezes_what_lives_and_collects_the_young_less_often(collector_restored):
    assert gc.get_freeze_count() == 0
    heap_settle()
    assert gc.get_freeze_count() > 1000, "Django and the loaded modules are out of later full collections"
    assert gc.get_threshold()[0] == YOUNG_GENERATION_OBJECTS


def test_garbage_of_the_set_up_is_collected_first_not_frozen(collector_restored):
    class Cycle:
        me: object = None

    cycle = Cycle()
    cycle.me = cycle  # only a collection frees it
    gone = weakref.ref(cycle)
    del cycle
    heap_settle()
    assert gone() is None
