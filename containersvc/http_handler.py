"""Django's ASGI handler, with the middleware chain and the view run in one hand-off to a kept request thread.

Served over ASGI, Django runs every middleware that can run either way (each `MiddlewareMixin`) as async, and
hands each of their `process_request`/`process_response` calls to the request's thread and back: a dozen
hand-offs a request with this project's middleware, about 4 ms of a trivial view's 5-6 ms through daphne on
these machines (docs/benchmarks.md). This project's middleware and HTTP views are all sync, so the chain runs as
under WSGI, in that thread, entered once; websockets are the consumers', not this handler's.

Django also makes a new thread for each request, so a database connection, which belongs to its thread,
lived for one request whatever CONN_MAX_AGE said: a connection a request (SQLite's set up anew, PostgreSQL's a
login). Requests here run on threads that are kept for later requests (RequestThreads), so a connection is
kept as CONN_MAX_AGE says, as under a WSGI server's thread pool.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.http import HttpRequest, HttpResponseBase

IDLE_REQUEST_THREADS = 16  # threads kept waiting for the next request; more run while more requests do


class RequestThreads:
    """Threads for requests, each the only thread of its executor (a request's sync calls share one thread),
    kept for the next request once idle. Concurrency is not bounded (as Django's thread a request); what is
    kept is: past `keep` idle threads, one closes its database connections and ends."""

    def __init__(self, keep: int = IDLE_REQUEST_THREADS) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._idle: list[ThreadPoolExecutor] = []

    def lease(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, thread: ThreadPoolExecutor) -> None:
        """Kept again once it is idle: a call a cancelled request left running finishes first."""
        thread.submit(_nothing).add_done_callback(lambda _done: self._idle_again(thread))

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def _idle_again(self, thread: ThreadPoolExecutor) -> None:
        # Called in that thread (the callback of its own call): its connections are its to close.
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(thread)
                return
        connections.close_all()
        thread.shutdown(wait=False)


def _nothing() -> None:
    return None


class SyncChainASGIHandler(ASGIHandler):
    # A response body goes to the server in pieces of this size (Django's are 64 KiB): a day of a container's
    # stats history is 1.3 MB, 21 hand-offs to daphne at 64 KiB, and it spent a few milliseconds on them.
    chunk_size = 2**20

    def __init__(self, threads: RequestThreads | None = None) -> None:
        super(ASGIHandler, self).__init__()  # not ASGIHandler's own: it loads the chain as async
        self.load_middleware(is_async=False)
        self.threads = threads or RequestThreads()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = self.threads.lease()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(thread)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def sync_chain_asgi_application() -> SyncChainASGIHandler:
    """As django.core.asgi.get_asgi_application(), with the handler above."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
