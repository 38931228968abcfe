"""Images: pullable, list, build, build history."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from containersvc import selectors, validation
from containersvc.api import serializers as api
from containersvc.api.views.base import ScopedApi
from containersvc.scopes import Scope
from containersvc.services import builds
from containersvc.services.images import image_pullable


class ImagePullableApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="imagePullable",
        parameters=[
            OpenApiParameter("imageName", str, OpenApiParameter.PATH, description="URL-encoded image reference.")
        ],
        responses=inline_serializer("ImagePullableResponse", {"pullable": serializers.BooleanField()}),
        description="Asks the image's own registry, through the engine, whether the image can be pulled. "
        "A registry host on a loopback, private or other non-public address is refused (400) unless the "
        "operator allowed it.",
    )
    def get(self, request, imageName: str):
        reference = validation.image_reference(imageName)
        return Response({"pullable": image_pullable(reference=reference)})


class ImageBuildApi(ScopedApi):
    required_scope = Scope.IMAGE_BUILD

    @extend_schema(
        operation_id="buildImage",
        request=api.BuildImageRequestSerializer,
        responses=inline_serializer(
            "BuildImageResponse",
            {
                "buildId": serializers.IntegerField(help_text="Extension: the build's id (GET /image/build/{id})."),
                "imageId": serializers.CharField(help_text="Extension: the built image."),
            },
        ),
        description="Build an image from a context under the build root; answers when the build has ended. "
        "A build cancelled meanwhile answers 409, one that ran past CONTAINERSVC_BUILD_TIMEOUT 504.",
    )
    def put(self, request):
        data = self.validated(api.BuildImageRequestSerializer, request.data)
        build = builds.build_create(
            actor=request.user,
            name=data["name"],
            context_path=data["contextPath"],
            dockerfile_path=data.get("dockerfilePath"),
        )
        builds.build_run(actor=request.user, build=build)
        return Response({"buildId": build.pk, "imageId": build.image_id})


class ImageListApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="listImages",
        responses=inline_serializer(
            "ListImagesResponse",
            {
                "images": inline_serializer(
                    "Image",
                    {
                        "id": serializers.CharField(),
                        "tags": serializers.ListField(child=serializers.CharField()),
                        "sizeBytes": serializers.IntegerField(),
                        "createdAt": serializers.DateTimeField(allow_null=True),
                    },
                    many=True,
                )
            },
        ),
        description="Extension: the images the engine has.",
    )
    def get(self, request):
        images = [
            {
                "id": image.id,
                "tags": list(image.tags),
                "sizeBytes": image.size_bytes,
                "createdAt": image.created_at.isoformat() if image.created_at else None,
            }
            for image in selectors.image_list_in_engine_order()
        ]
        return Response({"images": images})


class BuildListApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="listImageBuilds",
        responses=inline_serializer("ListBuildsResponse", {"builds": api.ImageBuildSerializer(many=True)}),
        description="Extension: recent image builds, newest first.",
    )
    def get(self, request):
        builds_seen = selectors.build_list(actor=request.user)
        return Response({"builds": api.ImageBuildSerializer(builds_seen, many=True).data})


class BuildDetailApi(ScopedApi):
    required_scope = Scope.CONTAINER_VIEW

    @extend_schema(
        operation_id="getImageBuild",
        responses=inline_serializer("GetBuildResponse", {"build": api.ImageBuildDetailSerializer()}),
        description="Extension: one build with its full stored output.",
    )
    def get(self, request, build_id: int):
        build = selectors.build_get(build_id=build_id, actor=request.user)
        return Response({"build": api.ImageBuildDetailSerializer(build).data})


class BuildCancelApi(ScopedApi):
    required_scope = Scope.IMAGE_BUILD

    @extend_schema(
        operation_id="cancelImageBuild",
        request=None,
        responses=inline_serializer("CancelImageBuildResponse", {"build": api.ImageBuildSerializer()}),
        description="Extension: stop a running build (whoever started it, or a superuser; 404 for anyone else). "
        "It ends failed with 'cancelled by <user>' and its step containers removed; the answer comes when it "
        "has ended, or after a few seconds with the build as it stands. 409 when it had already ended.",
    )
    def put(self, request, build_id: int):
        build = builds.build_cancel(actor=request.user, build_id=build_id)
        return Response({"build": api.ImageBuildSerializer(build).data})
