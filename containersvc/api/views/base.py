"""What every API view shares: the scope it requires and strict validation of its input."""

from rest_framework.views import APIView

from containersvc.scopes import Scope


class ScopedApi(APIView):
    required_scope: Scope

    def validated(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
