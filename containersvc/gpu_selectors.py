"""Reads of the node's GPUs: the inventory and the latest sample as a user may see it.

Apart from selectors.py because the sampler (a producer) imports the API's shapes, which import services that
read through selectors.py: selectors.py importing the sampler would close that loop.
"""

from containersvc import gpu
from containersvc.producers import gpu_sampler


def gpu_inventory() -> gpu.GpuInventory:
    """The node's GPUs; when NVML fails or hangs, the last good inventory, marked stale."""
    return gpu.gpu_inventory()


def gpu_latest_sample_for(*, actor) -> dict:
    """The latest GPU sample (the running sampler's, or one taken now) as `actor` may see it."""
    return gpu_sampler.payload_for_viewer(gpu_sampler.gpu_latest_payload(), actor=actor)


def gpu_sample_for(*, actor, inventory: gpu.GpuInventory) -> dict | None:
    """gpu_latest_sample_for for a page showing `inventory`: None without a GPU, and None when the inventory is
    stale, as NVML hangs or fails then and a sample would only wait for it again."""
    if not inventory.available or inventory.stale:
        return None
    return gpu_latest_sample_for(actor=actor)
