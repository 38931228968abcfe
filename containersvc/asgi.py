"""ASGI entry point (`daphne containersvc.asgi:application`): HTTP to Django, websockets to consumers."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "containersvc.settings")
from containersvc.http_handler import sync_chain_asgi_application

django_application = sync_chain_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from containersvc.consumers.auth import OriginCheck  # noqa: E402
from containersvc.heap import heap_settle  # noqa: E402
from containersvc.routing import websocket_urlpatterns  # noqa: E402
from containersvc.startup import (  # noqa: E402
    first_admin_announce,
    is_server_process,
    producers_wanted,
    recover_after_restart,
    start_always_on_producers,
)

recover_after_restart()
if is_server_process():
    first_admin_announce()
if producers_wanted():
    start_always_on_producers()

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
if is_server_process():
    heap_settle()  # last: everything above lives as long as the process
