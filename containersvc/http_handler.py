"""Django's ASGI handler, with the middleware chain and the view run in one hand-off to the request's thread.

Served over ASGI, Django runs every middleware that can run either way (each `MiddlewareMixin`) as async, and
hands each of their `process_request`/`process_response` calls to the request's thread and back: a dozen
hand-offs a request with this project's middleware, about 4 ms of a trivial view's 5-6 ms through daphne on
these machines (docs/benchmarks.md). This project's middleware and HTTP views are all sync, so the chain runs as
under WSGI, in that thread, entered once; websockets are the consumers', not this handler's.
"""

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class SyncChainASGIHandler(ASGIHandler):
    # A response body goes to the server in pieces of this size (Django's are 64 KiB): a day of a container's
    # stats history is 1.3 MB, 21 hand-offs to daphne at 64 KiB, and it spent a few milliseconds on them.
    chunk_size = 2**20

    def __init__(self) -> None:
        super(ASGIHandler, self).__init__()  # not ASGIHandler's own: it loads the chain as async
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def sync_chain_asgi_application() -> SyncChainASGIHandler:
    """As django.core.asgi.get_asgi_application(), with the handler above."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
