"""A cap on request bodies, checked before anything reads them.

gradio parses a request's JSON body whole before any handler can look at it: a 13 MB body
costs about 145 MB of memory before the refusal. This ASGI middleware answers 413 to a body
over `visionlab.budget.MAX_BODY_BYTES` (by its Content-Length, or by counting as it streams)
before gradio sees it. File uploads (the path ending in /upload) keep gradio's own cap.

    App(middleware=[Middleware(BodyLimit)])   # demo.launch(app_kwargs=...) in app.py
"""

from __future__ import annotations

import json

from visionlab import budget

REFUSAL = ("This request is larger than VisionLab accepts ({mb:g} MB). Send pictures as uploaded files, "
           "not inside the request. / 这个请求超过了 VisionLab 接受的大小（{mb:g} MB）。请把图片作为上传文件发送，"
           "不要放在请求里面。")


class TooLarge(Exception):
    """The body went past the cap while it streamed in (raised to the app that reads it)."""


class BodyLimit:
    """ASGI middleware: 413 for a request body over `limit` bytes (uploads excepted)."""

    def __init__(self, app, limit: int = budget.MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path", "").endswith("/upload"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await self.refuse(send)
        seen, over, refused = 0, False, False

        async def counted_receive():
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise TooLarge
            return message

        async def guarded_send(message):
            # Past the cap, whatever the app answers (FastAPI turns the error into a 400) becomes the 413.
            nonlocal refused
            if not over:
                await send(message)
            elif not refused:
                refused = True
                await self.refuse(send)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except TooLarge:
            if not refused:
                await self.refuse(send)

    async def refuse(self, send) -> None:
        body = json.dumps({"detail": REFUSAL.format(mb=self.limit / (1 << 20))}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
