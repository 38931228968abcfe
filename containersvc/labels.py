"""The labels Container Svc puts on what it creates; callers may not set labels under this prefix."""

PREFIX = "containersvc."
MANAGED = f"{PREFIX}managed"
HASH = f"{PREFIX}hash"
NODE = f"{PREFIX}node"
CREATED_BY = f"{PREFIX}created-by"
GPU = f"{PREFIX}gpu"


def is_reserved(key: str) -> bool:
    return key.lower().startswith(PREFIX)


def is_managed(labels: dict[str, str]) -> bool:
    return labels.get(MANAGED) == "true"


def user_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in labels.items() if not is_reserved(key)}
