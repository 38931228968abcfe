"""Changing the node's images: a pull followed live (ws/pulls/<id>/), remove, prune.

A pull needs container:run, not image:build: run already pulls whatever image it is given, so a caller who
may run may pull the same image ahead of time (model-svc warming a node), and it changes nothing a run
could not. Removing and pruning delete what others may rely on: image:build, like building.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import status
from rest_framework.response import Response

from containersvc import selectors
from containersvc.api import serializers as api
from containersvc.api.views.base import ScopedApi
from containersvc.producers import groups
from containersvc.scopes import Scope
from containersvc.services import images, pulls

PULL_RESPONSE = inline_serializer("ImagePullResponse", {"pull": api.ImagePullSerializer()})


class ImagePullApi(ScopedApi):
    required_scope = Scope.CONTAINER_RUN

    @extend_schema(
        operation_id="pullImage",
        request=api.PullImageRequestSerializer,
        responses={202: PULL_RESPONSE},
        description=(
            "Extension: start pulling an image (or join the pull of it already running) and answer at once; "
            "follow it with GET /image/pulls/{id} or the websocket ws/pulls/{id}/."
        ),
    )
    def put(self, request):
        data = self.validated(api.PullImageRequestSerializer, request.data)
        pull, new = pulls.pull_create(actor=request.user, image=data["image"])
        if new:
            pulls.pull_start_in_background(actor=request.user, pull=pull)
        return Response({"pull": groups.pull_payload(pull)}, status=status.HTTP_202_ACCEPTED)


class ImagePullDetailApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="getImagePull",
        responses=PULL_RESPONSE,
        description="Extension: one pull with its layers' progress as last saved.",
    )
    def get(self, request, pull_id: int):
        return Response({"pull": groups.pull_payload(selectors.pull_get(pull_id=pull_id))})


class ImageRemoveApi(ScopedApi):
    required_scope = Scope.IMAGE_BUILD

    @extend_schema(
        operation_id="removeImage",
        request=api.RemoveImageRequestSerializer,
        responses=api.RemoveImageResponseSerializer,
        description="Extension: remove an image; 409 while a container, running or not, uses it.",
    )
    def put(self, request):
        data = self.validated(api.RemoveImageRequestSerializer, request.data)
        removed = images.image_remove(actor=request.user, image=data["image"])
        return Response(
            {
                "deleted": list(removed.deleted),
                "untagged": list(removed.untagged),
                "spaceFreedBytes": removed.space_freed_bytes,
            }
        )


class ImagePruneApi(ScopedApi):
    required_scope = Scope.IMAGE_BUILD

    @extend_schema(
        operation_id="pruneImages",
        request=api.PruneImagesRequestSerializer,
        responses=api.PruneImagesResponseSerializer,
        description="Extension: delete the dangling images, or with `unused` every image no container uses.",
    )
    def put(self, request):
        data = self.validated(api.PruneImagesRequestSerializer, request.data)
        labels = {item["key"]: item["value"] for item in data.get("labels") or []}
        pruned = images.images_prune(actor=request.user, unused=data["unused"], labels=labels or None)
        return Response({"deleted": list(pruned.deleted), "spaceFreedBytes": pruned.space_reclaimed_bytes})
