"""One page (or one API client) cannot hold more than its share of the queue.

What gradio 6.31 offers: a size for the whole queue (`queue(max_size=64)`), a concurrency limit
per event or per concurrency id (every event that runs a model shares the id "model", limited
to 2 at once), and trigger modes that only the page applies. Nothing per session: one script
sending 70 requests fills the queue, every other student reads "Queue is full", and each of
them waits behind the script's model calls.

So VisionLab wraps the one place where gradio admits an event (`Queue.push`, before it is
queued and before any input is read): a session may have at most EVENT_SHARE events waiting or
running, of which at most MODEL_SHARE run a model. A request beyond its share is refused at
once, with a sentence in the page's language that names the number (an HTTP 400 whose detail
is the sentence: the page shows it as an error; gradio_client raises an HTTPStatusError whose
response holds it); everyone else keeps their place. A page in normal
use never comes near: each button or slider has at most one event waiting and one running.
"""

from __future__ import annotations

from typing import Any

from visionlab.text import Text

EVENT_SHARE = 8   # events one session may have waiting or running
MODEL_SHARE = 3   # of which run a model (2 run at once in the whole app)


# (session, concurrency id) of events admitted but not yet in gradio's queue: gradio's push waits on
# a lock before it queues an event, so concurrent requests must also count the ones in between.
_admitting: list[tuple[str, str | None]] = []


def _mine(queue: Any, session: str) -> list[str | None]:
    """The concurrency ids of the events of `session` that are waiting, running or being admitted."""
    waiting = [e for q in list(queue.event_queue_per_concurrency_id.values()) for e in list(q.queue)]
    running = [e for job in list(queue.active_jobs) if job for e in job]
    return ([getattr(e.fn, "concurrency_id", None) for e in waiting + running
             if getattr(e, "session_hash", None) == session]
            + [cid for s, cid in _admitting if s == session])


def over_share(queue: Any, session: str | None, concurrency_id: str | None, model_id: str) -> Text | None:
    """The refusal when one more event of `concurrency_id` would take `session` over its share."""
    if not session:
        return None
    mine = _mine(queue, session)
    if len(mine) >= EVENT_SHARE:
        return Text(f"This page already has {len(mine)} requests waiting or running, and one page may have at most "
                    f"{EVENT_SHARE} at once (the server is shared). Wait for them to finish, then try again.",
                    f"这个页面已经有 {len(mine)} 个请求在排队或运行，一个页面同时最多 {EVENT_SHARE} 个"
                    "（服务器是大家共用的）。请等它们完成后再试。")
    if concurrency_id == model_id:
        models = [cid for cid in mine if cid == model_id]
        if len(models) >= MODEL_SHARE:
            return Text(f"This page already has {len(models)} model requests waiting or running, and one page may "
                        f"have at most {MODEL_SHARE} at once (the models are shared by everyone). Wait for them to "
                        "finish, then try again.",
                        f"这个页面已经有 {len(models)} 个模型请求在排队或运行，一个页面同时最多 {MODEL_SHARE} 个"
                        "（模型是大家共用的）。请等它们完成后再试。")
    return None


def _language(session: str | None, request: Any) -> str:
    from demos.i18n import SESSIONS, from_accept_language

    headers = getattr(request, "headers", None) or {}
    return SESSIONS.get(session) or from_accept_language(headers.get("accept-language"))


def install(model_id: str) -> None:
    """Wrap gradio's Queue.push with the per-session share (idempotent)."""
    from gradio import queueing, route_utils

    if getattr(queueing.Queue.push, "fair_share", False):
        return
    admit = queueing.Queue.push

    async def push(self, body, request, username):
        if body.fn_index is None or not body.session_hash:
            return await admit(self, body, request, username)
        try:
            fn = route_utils.get_fn(self.blocks, None, body)
        except Exception:  # noqa: BLE001 - gradio answers a bad fn_index itself
            fn = None
        entry = (body.session_hash, getattr(fn, "concurrency_id", None))
        refusal = over_share(self, *entry, model_id)   # no await from here to the append: atomic
        if refusal is not None:
            return False, refusal.in_language(_language(body.session_hash, request)), "error"
        _admitting.append(entry)
        try:
            return await admit(self, body, request, username)
        finally:
            _admitting.remove(entry)

    push.fair_share = True  # type: ignore[attr-defined]
    queueing.Queue.push = push
