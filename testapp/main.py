# SPDX-License-Identifier: MIT
"""TodoMVC-like demo API: the local app the demo exposes through the tunnel.

In-memory CRUD on /todos with 7 seeded todos, like upstream's testapp.
Run: /usr/bin/python3 -m uvicorn main:app --app-dir testapp --host 127.0.0.1 --port 3000
"""

import threading
from typing import Dict, List, Optional

from fastapi import FastAPI, HTTPException, Response
from fastapi.middleware.cors import CORSMiddleware
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


class Store:
    """The todos, guarded by a lock (uvicorn may run handlers in threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.todos: Dict[int, Todo] = {}
        self.next_id = 1
        for title, done in SEED:
            self.add(TodoIn(title=title, completed=done))

    def add(self, item: TodoIn) -> Todo:
        todo = Todo(id=self.next_id, title=item.title, completed=item.completed,
                    order=item.order if item.order is not None else self.next_id)
        self.todos[todo.id] = todo
        self.next_id += 1
        return todo


store = Store()
app = FastAPI(title="TodoMVC API")
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


@app.get("/")
def root() -> dict:
    return {"message": "TodoMVC API", "docs": "/docs"}


@app.get("/todos", response_model=List[Todo])
def list_todos(completed: Optional[bool] = None) -> List[Todo]:
    with store.lock:
        items = list(store.todos.values())
    if completed is not None:
        items = [t for t in items if t.completed == completed]
    return items


@app.post("/todos", response_model=Todo, status_code=201)
def create_todo(item: TodoIn) -> Todo:
    with store.lock:
        return store.add(item)


@app.get("/todos/{todo_id}", response_model=Todo)
def get_todo(todo_id: int) -> Todo:
    with store.lock:
        todo = store.todos.get(todo_id)
    if todo is None:
        raise HTTPException(status_code=404, detail="Todo not found")
    return todo


@app.put("/todos/{todo_id}", response_model=Todo)
def update_todo(todo_id: int, patch: TodoPatch) -> Todo:
    with store.lock:
        todo = store.todos.get(todo_id)
        if todo is None:
            raise HTTPException(status_code=404, detail="Todo not found")
        data = todo.dict()
        data.update({k: v for k, v in patch.dict().items() if v is not None})
        store.todos[todo_id] = Todo(**data)
        return store.todos[todo_id]


@app.delete("/todos/{todo_id}", status_code=204)
def delete_todo(todo_id: int) -> Response:
    with store.lock:
        if store.todos.pop(todo_id, None) is None:
            raise HTTPException(status_code=404, detail="Todo not found")
    return Response(status_code=204)


@app.delete("/todos", status_code=204)
def delete_completed() -> Response:
    with store.lock:
        for tid in [t.id for t in store.todos.values() if t.completed]:
            del store.todos[tid]
    return Response(status_code=204)
