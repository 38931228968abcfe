"""The mirror of the engine (containers, builds, logs), the audit trail and service-account tokens."""

from django.conf import settings
from django.db import models

from containersvc import scopes
from containersvc.stats_points import POINT_FIGURES  # the columns a history read takes, in its order


class ContainerState(models.TextChoices):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"
    REMOVED = "removed"


class Container(models.Model):
    """One row per container the engine of a node ever had; kept after removal with its final state."""

    node_id = models.CharField(max_length=253, db_index=True)
    container_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255, db_index=True)
    names = models.JSONField(default=list)
    image = models.CharField(max_length=512)
    image_id = models.CharField(max_length=128, blank=True)
    hash = models.CharField(max_length=255, blank=True, db_index=True)
    managed = models.BooleanField(default=False, help_text="Created by Container Svc.")
    labels = models.JSONField(default=dict)
    envs = models.JSONField(default=list)
    keeps = models.JSONField(default=list)
    assets = models.JSONField(default=list)
    ports = models.JSONField(default=list)
    volumes = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=ContainerState.choices, db_index=True)
    status = models.CharField(max_length=255, blank=True, help_text="The engine's status line.")
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False, help_text="The last exit was the kernel's out-of-memory kill.")
    restart_count = models.IntegerField(default=0, help_text="Restarts by the engine's restart policy.")
    gpu_enabled = models.BooleanField(default=False)
    runtime = models.CharField(max_length=64, blank=True)
    network_mode = models.CharField(max_length=64, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    mac_address = models.CharField(max_length=64, blank=True)
    cpu_shares = models.IntegerField(default=0)
    memory_mb = models.IntegerField(default=0)
    nano_cpus = models.BigIntegerField(default=0, help_text="CPU limit in billionths of a CPU; 0: none.")
    pids_limit = models.IntegerField(default=0, help_text="Most processes; 0: no limit.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    engine_created_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node_id", "container_id"], name="container_unique_per_node")]
        ordering = ["-engine_created_at", "-id"]
        # The stubs type it as a list of (codename, str or lazy str): a list[tuple[str, str]] is one (invariance).
        permissions = scopes.model_permissions()  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"{self.name or self.container_id[:12]} ({self.state})"

    @property
    def is_running(self) -> bool:
        return self.state == ContainerState.RUNNING


class GrantLevel(models.TextChoices):
    VIEW = "view", "view (see, read logs)"
    OPERATE = "operate", "operate (also stop, start, restart, remove)"


class AccessGrant(models.Model):
    """An admin shares containers with a user or a group: those matching a label selector or a name prefix.

    What a grant allows is decided in containersvc.access; it never gives a scope its holder lacks.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="access_grants"
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="access_grants"
    )
    level = models.CharField(max_length=8, choices=GrantLevel.choices, default=GrantLevel.VIEW)
    label_selector = models.CharField(
        max_length=512, blank=True, help_text="`key=value`, or `key` alone: containers carrying that label."
    )
    name_prefix = models.CharField(max_length=128, blank=True, help_text="Containers whose name starts with this.")
    note = models.CharField(max_length=255, blank=True, help_text="Why the grant exists.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, group__isnull=True) | models.Q(user__isnull=True, group__isnull=False)
                ),
                name="access_grant_user_or_group",
            ),
            models.CheckConstraint(
                condition=~models.Q(label_selector="", name_prefix=""), name="access_grant_selector_or_prefix"
            ),
        ]

    def __str__(self) -> str:
        whom = f"user {self.user}" if self.user_id else f"group {self.group}"
        what = " and ".join(
            part
            for part in (
                f"label {self.label_selector}" if self.label_selector else "",
                f"names {self.name_prefix}*" if self.name_prefix else "",
            )
            if part
        )
        return f"{whom}: {self.level} on {what}"

    def clean(self) -> None:
        from containersvc import access  # the grammar of selectors lives with the rule

        access.grant_clean(grant=self)


class LogStream(models.TextChoices):
    STDOUT = "stdout"
    STDERR = "stderr"


class LogChunk(models.Model):
    """A batch of consecutive lines of one stream of one container, as captured from the engine."""

    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="log_chunks")
    stream = models.CharField(max_length=6, choices=LogStream.choices)
    content = models.TextField()
    line_count = models.PositiveIntegerField()
    # UTF-8 size of content: retention sums it without reading the text.
    content_bytes = models.PositiveIntegerField(default=0)
    first_line_at = models.DateTimeField()
    last_line_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    # A marker, not output: lines of the stream between first_line_at and last_line_at may be missing, the
    # engine having rotated its log past them before they were stored.
    gap = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["container", "-id"])]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.line_count} {self.stream} lines of {self.container}"


class LogCursor(models.Model):
    """Where capture of one stream of one container stopped: resuming from here loses and repeats nothing."""

    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="log_cursors")
    stream = models.CharField(max_length=6, choices=LogStream.choices)
    # The engine's line timestamp in nanoseconds, and how many stored lines carry exactly that timestamp.
    last_timestamp_ns = models.BigIntegerField(default=0)
    lines_at_last_timestamp = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["container", "stream"], name="log_cursor_unique")]

    def __str__(self) -> str:
        return f"{self.stream} of {self.container} at {self.last_timestamp_ns}"


class BuildStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class ImageBuild(models.Model):
    node_id = models.CharField(max_length=253, db_index=True)
    tag = models.CharField(max_length=512)
    context_path = models.CharField(max_length=4096)
    dockerfile_path = models.CharField(max_length=4096, blank=True)
    status = models.CharField(max_length=16, choices=BuildStatus.choices, default=BuildStatus.QUEUED)
    output = models.TextField(blank=True)
    output_truncated = models.BooleanField(default=False)
    image_id = models.CharField(max_length=128, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    runner_pid = models.IntegerField(null=True, blank=True, help_text="The service process running the build.")
    # Asked from any process of the node; the runner polls for it and stops the build.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.tag} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {BuildStatus.SUCCEEDED, BuildStatus.FAILED, BuildStatus.INTERRUPTED}


class AuditOutcome(models.TextChoices):
    OK = "ok"
    ERROR = "error"


class AuditEvent(models.Model):
    """Every mutating call: who, what, on what, with what outcome, when."""

    node_id = models.CharField(max_length=253, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, help_text="Kept when the user is deleted.")
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=512, blank=True)
    outcome = models.CharField(max_length=8, choices=AuditOutcome.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target}: {self.outcome}"


class ServiceToken(models.Model):
    """A bearer token of a service account; only its hash is stored, the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SetupToken(models.Model):
    """A one-time link to create the first admin, printed at start while no superuser exists; stored hashed."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Setup token {self.pk}"  # never the hash


class ContainerStatsSample(models.Model):
    """One bucket of a container's resource samples, downsampled: means and maxima over `resolution` seconds."""

    # Indexed by the history index below, which begins with it: no index of its own.
    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="stats_samples", db_index=False)
    resolution = models.PositiveIntegerField(help_text="Bucket length in seconds.")
    bucket_start = models.DateTimeField()
    samples = models.PositiveIntegerField(default=1, help_text="Samples the bucket summarises.")
    cpu_mean = models.FloatField(help_text="CPU %, 100 is one core.")
    cpu_max = models.FloatField()
    mem_mean = models.BigIntegerField(help_text="Bytes, without inactive page cache (as docker stats).")
    mem_max = models.BigIntegerField()
    mem_limit = models.BigIntegerField()
    net_rx_rate = models.FloatField(help_text="Bytes per second.")
    net_tx_rate = models.FloatField()
    blk_read_rate = models.FloatField()
    blk_write_rate = models.FloatField()
    pids = models.PositiveIntegerField(help_text="The most at once in the bucket.")

    class Meta:
        indexes = [
            # Every column a history read takes, so that a day of a container's buckets is read from the index
            # alone (a covering index), not from rows spread over the table: half the read (docs/stats.md).
            models.Index(
                fields=["container", "resolution", "bucket_start", *POINT_FIGURES], name="stats_sample_history_idx"
            ),
            models.Index(fields=["resolution", "bucket_start"], name="stats_sample_retention_idx"),
        ]
        ordering = ["bucket_start", "id"]

    def __str__(self) -> str:
        return f"{self.resolution}s at {self.bucket_start:%Y-%m-%d %H:%M:%S} of {self.container}"


class ContainerStatsBlock(models.Model):
    """Closed buckets of one container and resolution, packed once their time is past (stats_blocks.py)."""

    # Indexed by the unique constraint below, which begins with it: no index of its own.
    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="stats_blocks", db_index=False)
    resolution = models.PositiveIntegerField(help_text="Bucket length in seconds.")
    block_start = models.DateTimeField(help_text="Where the block's time begins; it lasts BLOCK_BUCKETS buckets.")
    buckets = models.PositiveIntegerField(help_text="Buckets packed in it.")
    packed = models.BinaryField(help_text="The buckets as fixed-size records, oldest first (stats_blocks.RECORD).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["container", "resolution", "block_start"], name="stats_block_unique"),
        ]
        indexes = [models.Index(fields=["resolution", "block_start"], name="stats_block_retention_idx")]
        ordering = ["block_start", "id"]

    def __str__(self) -> str:
        return (
            f"{self.buckets} buckets of {self.resolution}s from {self.block_start:%Y-%m-%d %H:%M} of {self.container}"
        )


# The engine's layer statuses after which a layer is all downloaded, and after which it is in place.
LAYER_DONE = frozenset({"Pull complete", "Already exists"})
LAYER_DOWNLOADED = frozenset({"Verifying Checksum", "Download complete", "Extracting", *LAYER_DONE})


class PullStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class ImagePull(models.Model):
    """One pull of an image, with its layers' progress as the engine last reported it."""

    node_id = models.CharField(max_length=253, db_index=True)
    image = models.CharField(max_length=512, help_text="The reference pulled.")
    status = models.CharField(max_length=16, choices=PullStatus.choices, default=PullStatus.RUNNING)
    # layer short id -> {"status", "current", "total"}, in the order the engine named them
    layers = models.JSONField(default=dict)
    message = models.CharField(max_length=512, blank=True, help_text="The engine's last line about the whole image.")
    error = models.TextField(blank=True)
    note = models.CharField(max_length=512, blank=True, help_text="What followed the pull (a run from the dashboard).")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    runner_pid = models.IntegerField(null=True, blank=True, help_text="The service process running the pull.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.image} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != PullStatus.RUNNING

    @property
    def progress(self) -> dict:
        """The layers summed up: how many, how many done, bytes downloaded of the bytes known."""
        current = total = done = 0
        for layer in self.layers.values():
            total += layer["total"]
            if layer["status"] in LAYER_DOWNLOADED:
                current += layer["total"]
            elif layer["status"] == "Downloading":
                current += layer["current"]
            done += layer["status"] in LAYER_DONE
        return {"layers": len(self.layers), "layersDone": done, "currentBytes": current, "totalBytes": total}


class AlertKind(models.TextChoices):
    CPU_PERCENT = "cpu_percent", "CPU % above"
    MEMORY_PERCENT = "memory_percent", "Memory % of limit above"
    RESTARTS = "restarts", "Restarts at least"
    OOM_KILLED = "oom_killed", "Killed for lack of memory"


class AlertTarget(models.TextChoices):
    ALL = "all", "Every container"
    CONTAINER = "container", "One container (exact name or full id)"
    LABEL = "label", "Containers with a label (key=value, or key)"


class AlertRule(models.Model):
    """When to raise an alert on a container's resource use or exits; edited in the Django admin."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    threshold = models.FloatField(
        default=0, help_text="CPU % (100 is one core), memory % of the limit, or restarts; unused for OOM kills."
    )
    for_seconds = models.PositiveIntegerField(default=0, help_text="How long the condition must hold before firing.")
    target_kind = models.CharField(max_length=16, choices=AlertTarget.choices, default=AlertTarget.ALL)
    target = models.CharField(max_length=512, blank=True, help_text="The container's name or id, or the selector.")
    cooldown_seconds = models.PositiveIntegerField(
        default=300, help_text="After firing on a container, it does not fire again on it for this long."
    )
    webhook_url = models.URLField(max_length=1000, blank=True, help_text="Firing and resolving are POSTed here.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from containersvc.services import alerts  # the rule's grammar lives with the evaluator

        alerts.alert_rule_clean(rule=self)


class AlertEvent(models.Model):
    """One firing of a rule on a container; open (active) until resolved_at is set."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="alert_events")
    value = models.FloatField(help_text="The measured value when it fired.")
    fired_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-fired_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule} on {self.container.name or self.container.container_id[:12]}"

    @property
    def is_active(self) -> bool:
        return self.resolved_at is None


class ProducerLease(models.Model):
    """Which process of a node does one producer's storing work (a role), until `expires_at` unless renewed."""

    node_id = models.CharField(max_length=253)
    role = models.CharField(max_length=32)
    holder = models.CharField(max_length=200, help_text="host:pid:token of the holding process.")
    expires_at = models.DateTimeField()
    handed_over_at = models.DateTimeField(
        null=True, blank=True, help_text="When the previous holder's term ended: work before it was that holder's."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node_id", "role"], name="producer_lease_one_per_role")]

    def __str__(self) -> str:
        return f"{self.role} on {self.node_id}: {self.holder}"
