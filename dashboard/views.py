"""Dashboard pages: they read through selectors and write through services only.

Each page renders what it knows now; the page's ES module then keeps it live over a websocket. Actions are
shown only to holders of the scope and refused here (403) without it.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from containersvc import access, gpu_selectors, scopes, selectors, stats_selectors
from containersvc.api.gpu_shapes import inventory_payload
from containersvc.errors import ContainerSvcError, NotFound
from containersvc.producers import groups
from containersvc.scopes import Scope
from containersvc.services import builds, containers, pulls
from containersvc.services import images as image_service
from dashboard.forms import AuditFilterForm, BuildForm, ImagePruneForm, ImageRemoveForm, PullForm, RunContainerForm

STORED_LINES_SHOWN = 1000


def _require(request: HttpRequest, scope: Scope) -> None:
    if not scopes.scope_held(request.user, scope):
        raise PermissionDenied(scopes.scope_missing_message(scope))


def _can(request: HttpRequest) -> dict[str, bool]:
    """What the page may offer, by scope; the server checks again on every action."""
    held = scopes.scopes_of(request.user)
    return {
        "view": Scope.CONTAINER_VIEW in held,
        "run": Scope.CONTAINER_RUN in held,
        "stop": Scope.CONTAINER_STOP in held,
        "logs": Scope.LOG_VIEW in held,
        "build": Scope.IMAGE_BUILD in held,
        "superuser": request.user.is_superuser,
    }


def _run_form(request: HttpRequest, data=None) -> RunContainerForm:
    """The run form; its GPU choice is read from NVML only for those who may run containers."""
    if not scopes.scope_held(request.user, Scope.CONTAINER_RUN):
        return RunContainerForm(data)
    inventory = gpu_selectors.gpu_inventory()
    sample = gpu_selectors.gpu_sample_for(actor=request.user, inventory=inventory)
    return RunContainerForm(data, gpus=inventory, sample=sample)


def _containers_page(request: HttpRequest, form: RunContainerForm, status: int = 200) -> HttpResponse:
    engine_error = ""
    try:
        merged = containers.container_list_started()
        sight = access.sight_of(request.user)  # its grants read while the engine answers
        rows = [groups.container_payload(row) for row in selectors.container_list_for(sight=sight, live=merged())]
    except ContainerSvcError as error:
        rows, engine_error = [], error.message
    context = {"containers": rows, "can": _can(request), "form": form, "engine_error": engine_error}
    return render(request, "dashboard/containers.html", context, status=status)


@login_required
@require_GET
def container_list(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.CONTAINER_VIEW)
    return _containers_page(request, _run_form(request))


@login_required
@require_POST
def container_run(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.CONTAINER_RUN)
    form = _run_form(request, request.POST)
    spec = form.run_spec() if form.is_valid() else None
    if spec is not None:
        try:
            pull = _pull_before_run(request, spec)
            if pull is not None:
                return redirect("dashboard:pull", pull_id=pull.pk)
            result = containers.container_run(actor=request.user, spec=spec)
        except ContainerSvcError as error:
            form.add_error(None, error.message)
        else:
            verb = "Started" if result.started else "Already running:"
            messages.success(request, f"{verb} {result.name} ({result.container_id[:12]}).")
            return redirect("dashboard:containers")
    return _containers_page(request, form, status=400)


def _pull_before_run(request: HttpRequest, spec: containers.RunSpec):
    """An image the node lacks is pulled first, its progress on the pull's page; the run follows the pull."""
    reference = spec.image_reference()
    if selectors.image_present(reference=reference.pull_reference):
        return None
    pull, new = pulls.pull_create(actor=request.user, image=reference.pull_reference)

    def run() -> str:
        result = containers.container_run(actor=request.user, spec=spec)
        verb = "started" if result.started else "found already running:"
        return f"Then {verb} {result.name} ({result.container_id[:12]})."

    pulls.pull_start_in_background(actor=request.user, pull=pull, new=new, then=run)
    return pull


@login_required
@require_GET
def container_detail(request: HttpRequest, container_id: str) -> HttpResponse:
    _require(request, Scope.CONTAINER_VIEW)
    try:
        found = containers.container_for_viewer(actor=request.user, container_id=container_id)
        details = selectors.container_details(actor=request.user, container_id=found.id)
    except NotFound:
        return _container_gone_page(request, container_id)
    charts = stats_selectors.stats_container_charts(details=details)
    context = {"details": details, "container": details.summary, "can": _can(request), "charts": charts}
    return render(request, "dashboard/container_detail.html", context)


def _viewable_gone_row(request: HttpRequest, container_id: str):
    """The kept row of a removed container, for those who may see it; 404 as for an unknown one otherwise."""
    try:
        return selectors.container_gone(actor=request.user, container_id=container_id)
    except NotFound as error:
        raise Http404(error.message) from error


def _container_gone_page(request: HttpRequest, container_id: str) -> HttpResponse:
    """A container the engine no longer has: its last known state and its stored logs."""
    row = _viewable_gone_row(request, container_id)
    can = _can(request)
    chunks = selectors.stored_log_chunks(container=row, newest_lines=STORED_LINES_SHOWN) if can["logs"] else []
    lines = [(chunk.stream, line) for chunk in chunks for line in chunk.content.split("\n")][-STORED_LINES_SHOWN:]
    context = {"row": row, "lines": lines, "shown": STORED_LINES_SHOWN, "can": can}
    return render(request, "dashboard/container_gone.html", context)


@login_required
@require_GET
def container_log_download(request: HttpRequest, container_id: str) -> StreamingHttpResponse:
    """The whole log as text, streamed from the engine (never held in memory)."""
    _require(request, Scope.LOG_VIEW)
    try:
        found = containers.container_for_viewer(actor=request.user, container_id=container_id)
    except NotFound:
        return _stored_log_download(request, container_id)
    lines = selectors.container_log_lines(container_id=found.id)
    response = StreamingHttpResponse(
        (f"{line.timestamp_ns} {line.stream} {line.text}\n" for line in lines), content_type="text/plain"
    )
    response["Content-Disposition"] = f'attachment; filename="{found.name or found.id[:12]}.log"'
    return response


def _stored_log_download(request: HttpRequest, container_id: str) -> StreamingHttpResponse:
    """A removed container's log from what was stored (chunk times; lines in their stored order)."""
    row = _viewable_gone_row(request, container_id)
    chunks = selectors.stored_log_chunks(container=row)
    response = StreamingHttpResponse(
        (
            f"{chunk.first_line_at.isoformat()} {chunk.stream} {line}\n"
            for chunk in chunks
            for line in chunk.content.split("\n")
        ),
        content_type="text/plain",
    )
    response["Content-Disposition"] = f'attachment; filename="{row.name or row.container_id[:12]}.log"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def images(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.CONTAINER_VIEW)
    form = BuildForm(request.POST or None)
    if request.method == "POST":
        _require(request, Scope.IMAGE_BUILD)
        if form.is_valid():
            try:
                build = builds.build_create(actor=request.user, **form.cleaned_data)
            except ContainerSvcError as error:
                form.add_error(None, error.message)
            else:
                builds.build_start_in_background(actor=request.user, build=build)
                return redirect("dashboard:build", build_id=build.pk)
    engine_error, image_rows = "", []
    try:
        # What removing each frees, and who uses it: for those who may remove.
        image_rows = selectors.image_list(with_usage=scopes.scope_held(request.user, Scope.IMAGE_BUILD))
    except ContainerSvcError as error:
        engine_error = error.message
    context = {
        "images": [{"image": image, "usage": usage} for image, usage in image_rows],
        "pulls": selectors.pull_list(limit=20),
        "pull_form": PullForm(),
        "builds": selectors.build_list(actor=request.user, limit=50),
        "form": form,
        "can": _can(request),
        "engine_error": engine_error,
    }
    return render(request, "dashboard/images.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def build_detail(request: HttpRequest, build_id: int) -> HttpResponse:
    if not scopes.scope_held(request.user, Scope.IMAGE_BUILD):
        _require(request, Scope.CONTAINER_VIEW)
    try:
        build = selectors.build_get(build_id=build_id, actor=request.user)
    except NotFound as error:
        raise Http404(error.message) from error
    shown = builds.build_context_shown(context_path=build.context_path)  # where the form takes it
    return render(request, "dashboard/build_detail.html", {"build": build, "context_path": shown, "can": _can(request)})


@login_required
@require_POST
def build_cancel(request: HttpRequest, build_id: int) -> HttpResponse:
    _require(request, Scope.IMAGE_BUILD)
    try:
        build = builds.build_cancel(actor=request.user, build_id=build_id)
    except NotFound as error:
        raise Http404(error.message) from error
    except ContainerSvcError as error:
        messages.error(request, error.message)
    else:
        ended = f"{build.status}: {build.error}" if build.is_finished else "cancel asked, it ends shortly"
        messages.success(request, f"Build {build.pk}: {ended}.")
    return redirect("dashboard:build", build_id=build_id)


@login_required
@require_GET
def node(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.CONTAINER_VIEW)
    context: dict = {
        "can": _can(request),
        "node_id": selectors.this_node(),
        "address": selectors.engine_address(),
        # As GET /container-svc/host answers.
        "host": settings.CONTAINERSVC_HOST_ADDRESS or settings.CONTAINERSVC_PUBLISH_INTERFACE,
        "gpus": gpu_selectors.gpu_inventory(),
    }
    try:
        context["info"] = selectors.daemon_info()
        context["disk"] = selectors.daemon_disk_usage()
    except ContainerSvcError as error:
        context["engine_error"] = error.message
    return render(request, "dashboard/node.html", context)


@login_required
@require_GET
def gpus(request: HttpRequest) -> HttpResponse:
    """The page renders the inventory and a first sample; gpus.js charts the stream from ws/gpus/."""
    _require(request, Scope.CONTAINER_VIEW)
    inventory = gpu_selectors.gpu_inventory()
    context = {
        "can": _can(request),
        "inventory": inventory,
        "gpu_data": {
            "inventory": inventory_payload(inventory),
            # None when the inventory is stale: the stream says NVML hangs rather than this page waiting.
            "sample": gpu_selectors.gpu_sample_for(actor=request.user, inventory=inventory),
            # The page calls a reading stale when none came for a few sampling intervals.
            "sampleSeconds": settings.CONTAINERSVC_GPU_SAMPLE_SECONDS,
        },
    }
    return render(request, "dashboard/gpus.html", context)


@login_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.CONTAINER_VIEW)
    form = AuditFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.audit_list(action=filters.get("action") or None, actor=filters.get("actor") or None)
    return render(request, "dashboard/audit.html", {"events": events, "form": form, "can": _can(request)})


@login_required
@require_POST
def image_pull(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.CONTAINER_RUN)
    form = PullForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give an image to pull.")
        return redirect("dashboard:images")
    try:
        pull, new = pulls.pull_create(actor=request.user, image=form.cleaned_data["image"])
    except ContainerSvcError as error:
        messages.error(request, error.message)
        return redirect("dashboard:images")
    if new:
        pulls.pull_start_in_background(actor=request.user, pull=pull)
    return redirect("dashboard:pull", pull_id=pull.pk)


@login_required
@require_POST
def image_remove(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.IMAGE_BUILD)
    form = ImageRemoveForm(request.POST)
    if form.is_valid():
        image = form.cleaned_data["image"]
        try:
            removed = image_service.image_remove(actor=request.user, image=image)
        except ContainerSvcError as error:
            messages.error(request, error.message)
        else:
            done = "Removed" if removed.deleted else "Untagged"
            messages.success(request, f"{done} {image}: {filesizeformat(removed.space_freed_bytes)} freed.")
    return redirect("dashboard:images")


@login_required
@require_POST
def images_prune(request: HttpRequest) -> HttpResponse:
    _require(request, Scope.IMAGE_BUILD)
    form = ImagePruneForm(request.POST)
    unused = form.is_valid() and form.cleaned_data["unused"]
    try:
        pruned = image_service.images_prune(actor=request.user, unused=unused)
    except ContainerSvcError as error:
        messages.error(request, error.message)
    else:
        kind = "unused" if unused else "dangling"
        freed = filesizeformat(pruned.space_reclaimed_bytes)
        messages.success(request, f"Pruned {kind} images: {len(pruned.deleted)} deleted, {freed} freed.")
    return redirect("dashboard:images")


@login_required
@require_GET
def pull_detail(request: HttpRequest, pull_id: int) -> HttpResponse:
    if not scopes.scope_held(request.user, Scope.CONTAINER_RUN):
        _require(request, Scope.CONTAINER_VIEW)
    try:
        pull = selectors.pull_get(pull_id=pull_id)
    except NotFound as error:
        raise Http404(error.message) from error
    context = {"pull": pull, "payload": groups.pull_payload(pull), "can": _can(request)}
    return render(request, "dashboard/pull_detail.html", context)


@login_required
@require_GET
def active_alerts(request: HttpRequest) -> HttpResponse:
    """The active alerts' banner alone, as every page shows it to whoever is logged in (its context and its rule
    of who sees which alert are dashboard/context_processors.py's): what alerts.js fetches again while a page is
    open."""
    return render(request, "dashboard/_alerts.html")
