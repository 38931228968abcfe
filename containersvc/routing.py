"""Websocket routes; each consumer checks authentication and its scope before it accepts."""

websocket_urlpatterns: list = []
