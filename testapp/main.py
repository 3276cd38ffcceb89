# SPDX-License-Identifier: MIT
"""TodoMVC-like demo API: the local app the demo exposes through the tunnel.

In-memory CRUD on /todos with 7 seeded todos, like upstream's testapp, a server-sent events stream
of the changes (/events) and a page that uses both (/ui). Nothing is loaded from another site: the
page is one HTML file with its script and style inline (FastAPI's /docs and /redoc pages load their
scripts from a CDN, so they are switched off; /openapi.json remains).
Run: /usr/bin/python3 -m uvicorn main:app --app-dir testapp --host 127.0.0.1 --port 3000
"""

import asyncio
import json
import os
from typing import Dict, List, Optional, Set

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel


class TodoIn(BaseModel):
    title: str
    completed: bool = False
    order: Optional[int] = None


class TodoPatch(BaseModel):
    title: Optional[str] = None
    completed: Optional[bool] = None
    order: Optional[int] = None


class Todo(BaseModel):
    id: int
    title: str
    completed: bool = False
    order: Optional[int] = None


SEED = [
    ("Install the tunnel agent", True),
    ("Start ttfd", True),
    ("Expose the demo app", False),
    ("Share the public URL", False),
    ("Try server-sent events", False),
    ("Upload a large file", False),
    ("Read the protocol doc", False),
]

HEARTBEAT_SEC = 15.0  # an SSE comment line this often keeps idle proxies from closing the stream
SUBSCRIBER_QUEUE = 256  # changes a slow subscriber may lag behind before it is dropped


class Store:
    """The todos and the subscribers to their changes. Every handler is `async def`, so all of
    this runs on the event loop's thread and needs no lock."""

    def __init__(self) -> None:
        self.todos: Dict[int, Todo] = {}
        self.next_id = 1
        self.seq = 0  # id of the last change event
        self.subscribers: Set[asyncio.Queue] = set()
        for title, done in SEED:
            self.add(TodoIn(title=title, completed=done))

    def add(self, item: TodoIn) -> Todo:
        todo = Todo(id=self.next_id, title=item.title, completed=item.completed,
                    order=item.order if item.order is not None else self.next_id)
        self.todos[todo.id] = todo
        self.next_id += 1
        return todo

    def publish(self, kind: str, todo: Todo) -> None:
        """Queue one change event ("created", "updated", "deleted") for every subscriber."""
        self.seq += 1
        event = (self.seq, kind, todo.dict())
        for q in list(self.subscribers):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:  # it stopped reading: end its stream (clients reconnect)
                self.subscribers.discard(q)
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(None)


store = Store()
app = FastAPI(title="TodoMVC API", docs_url=None, redoc_url=None)
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


@app.get("/")
async def root() -> dict:
    return {"message": "TodoMVC API", "ui": "/ui", "events": "/events", "openapi": "/openapi.json"}


@app.get("/todos", response_model=List[Todo])
async def list_todos(completed: Optional[bool] = None) -> List[Todo]:
    items = list(store.todos.values())
    if completed is not None:
        items = [t for t in items if t.completed == completed]
    return items


@app.post("/todos", response_model=Todo, status_code=201)
async def create_todo(item: TodoIn) -> Todo:
    todo = store.add(item)
    store.publish("created", todo)
    return todo


@app.get("/todos/{todo_id}", response_model=Todo)
async def get_todo(todo_id: int) -> Todo:
    todo = store.todos.get(todo_id)
    if todo is None:
        raise HTTPException(status_code=404, detail="Todo not found")
    return todo


@app.put("/todos/{todo_id}", response_model=Todo)
async def update_todo(todo_id: int, patch: TodoPatch) -> Todo:
    todo = store.todos.get(todo_id)
    if todo is None:
        raise HTTPException(status_code=404, detail="Todo not found")
    data = todo.dict()
    data.update({k: v for k, v in patch.dict().items() if v is not None})
    store.todos[todo_id] = Todo(**data)
    store.publish("updated", store.todos[todo_id])
    return store.todos[todo_id]


@app.delete("/todos/{todo_id}", status_code=204)
async def delete_todo(todo_id: int) -> Response:
    todo = store.todos.pop(todo_id, None)
    if todo is None:
        raise HTTPException(status_code=404, detail="Todo not found")
    store.publish("deleted", todo)
    return Response(status_code=204)


@app.delete("/todos", status_code=204)
async def delete_completed() -> Response:
    for todo in [t for t in store.todos.values() if t.completed]:
        del store.todos[todo.id]
        store.publish("deleted", todo)
    return Response(status_code=204)


def sse(event: str, data: dict, event_id: Optional[int] = None) -> bytes:
    """One server-sent event (WHATWG HTML, "Server-sent events": id, event and data fields)."""
    head = "id: %d\n" % event_id if event_id is not None else ""
    return ("%sevent: %s\ndata: %s\n\n" % (head, event, json.dumps(data))).encode()


@app.get("/events")
async def events(request: Request, max_events: Optional[int] = Query(None, alias="max", ge=1)):
    """text/event-stream of the changes to the todos: first `hello` (how many todos there are),
    then one `created`, `updated` or `deleted` event per change (data: the todo), a comment line
    every 15 s while nothing happens. `?max=N` ends the stream after N changes."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
    store.subscribers.add(queue)

    async def stream():
        sent = 0
        try:
            yield b"retry: 3000\n" + sse("hello", {"todos": len(store.todos), "seq": store.seq})
            while max_events is None or sent < max_events:
                try:
                    ev = await asyncio.wait_for(queue.get(), HEARTBEAT_SEC)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield b": keep-alive\n\n"
                    continue
                if ev is None:
                    break
                seq, kind, todo = ev
                yield sse(kind, todo, seq)
                sent += 1
        finally:
            store.subscribers.discard(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


UI_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui.html")


@app.get("/ui", response_class=HTMLResponse)
async def ui() -> HTMLResponse:
    """The demo page: the todos, live through /events; no external scripts, styles or fonts."""
    with open(UI_FILE, encoding="utf-8") as f:
        return HTMLResponse(f.read())
