"""The serving process's garbage collector, set for a long-lived heap that takes many short-lived objects.

CPython collects its youngest generation every 700 allocations kept, and now and then walks every object the
process holds. In a served process with the stats collector sampling 500 containers and the list answered
in a loop, that was about 50 young collections a second, 5 of the middle generation (2 ms each) and a full
walk of the 146,000 objects of Django and the loaded modules every few seconds (100-120 ms each): 6.5-8.7 %
of the process's time, and a request that met a full walk waited for it (docs/benchmarks.md). Those objects
live as long as the process: frozen once it is set up, a full walk skips them; a young generation of 10,000
objects is collected a fiftieth as often, and most of its objects are gone by then anyway (1 % in all).
"""

import gc

YOUNG_GENERATION_OBJECTS = 10_000


def heap_settle() -> None:
    """Once the process has loaded everything it serves with: keep that out of later collections."""
    gc.collect()  # garbage of the set-up (cycles made while importing) is not kept forever
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_OBJECTS, middle, oldest)
