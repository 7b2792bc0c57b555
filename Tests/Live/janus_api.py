"""Minimal Janus API client over the REST (HTTP) transport, for asyncio code.

Plain stdlib urllib; blocking calls run in the default executor. One daemon
thread long-polls  GET {base}/{session}?maxev=1  and hands every event to the
asyncio loop; another POSTs {"janus":"keepalive"} every 20 s.

    s = JanusSession("http://10.99.0.1:8088/janus", trace=open("events.jsonl", "w"))
    await s.create()
    h = await s.attach("janus.plugin.videoroom")
    data = await s.request(h, {"request": "listparticipants", "room": 1234})  # sync
    ev = await s.send(h, {"request": "join", ...}, expect=("joined",))      # async
    ev["plugindata"]["data"], ev.get("jsep")
    await s.detach(h); await s.destroy()

Errors (a {"janus":"error"} reply, a plugin {"error_code":..} reply or event,
HTTP failures, timeouts) raise JanusError.
"""

import asyncio
import json
import random
import string
import threading
import time
import urllib.error
import urllib.request

HTTP_TIMEOUT = 10.0
POLL_TIMEOUT = 40.0   # Janus answers a long poll after 30 s with {"janus":"keepalive"}
KEEPALIVE_EVERY = 20.0


class JanusError(Exception):
    pass


def transaction() -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=12))


def _http(method: str, url: str, body=None, timeout: float = HTTP_TIMEOUT):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        raise JanusError(f"{method} {url} -> HTTP {e.code}: "
                         f"{e.read().decode('utf-8', 'replace')[:300]}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise JanusError(f"{method} {url}: {e}") from None


def plugin_data(msg: dict) -> dict:
    return (msg.get("plugindata") or {}).get("data") or {}


class JanusSession:
    def __init__(self, base: str, trace=None, log=None):
        self.base = base.rstrip("/")
        self.trace = trace          # file object: one JSON line per message in/out
        self.log = log
        self.id = None
        self.loop = None
        self.queues = {}            # handle id -> asyncio.Queue of unsolicited events
        self.pending = {}           # transaction -> Future for the event answering it
        self.session_events = None  # asyncio.Queue of events without a sender
        self.closed = threading.Event()
        self.t0 = time.monotonic()
        self.poll_errors = 0
        self.trace_lock = threading.Lock()   # the poll/keepalive threads trace too

    # -- plumbing -----------------------------------------------------------
    def _trace(self, direction: str, msg) -> None:
        if self.trace:
            rec = {"t": round(time.monotonic() - self.t0, 3), "dir": direction, "msg": msg}
            with self.trace_lock:
                if not self.trace.closed:
                    self.trace.write(json.dumps(rec) + "\n")
                    self.trace.flush()

    async def _post(self, path: str, body: dict) -> dict:
        body = dict(body)
        body.setdefault("transaction", transaction())
        url = self.base + path
        self._trace("out", {"url": path, **body})
        resp = await self.loop.run_in_executor(None, _http, "POST", url, body)
        self._trace("in", resp)
        if resp.get("janus") == "error":
            err = resp.get("error") or {}
            raise JanusError(f"Janus error {err.get('code')}: {err.get('reason')} "
                             f"(request {body.get('janus')} {body.get('body', '')})")
        return resp

    def _dispatch(self, ev: dict) -> None:
        fut = self.pending.pop(ev.get("transaction"), None)
        if fut is not None and not fut.done():
            fut.set_result(ev)      # the event answering one of our requests
            return
        sender = ev.get("sender")
        q = self.queues.get(sender) if sender is not None else None
        (q or self.session_events).put_nowait(ev)

    def _poller(self) -> None:
        url = f"{self.base}/{self.id}?maxev=1"
        while not self.closed.is_set():
            try:
                ev = _http("GET", f"{url}&rid={int(time.time() * 1000)}", timeout=POLL_TIMEOUT)
            except JanusError as e:
                if self.closed.is_set():
                    return
                self.poll_errors += 1
                self.loop.call_soon_threadsafe(
                    self._dispatch, {"janus": "poll_error", "reason": str(e)})
                if self.poll_errors > 5:
                    return
                time.sleep(0.5)
                continue
            events = ev if isinstance(ev, list) else [ev]
            for e in events:
                if e.get("janus") == "keepalive":
                    continue
                self._trace("event", e)
                if not self.closed.is_set():
                    self.loop.call_soon_threadsafe(self._dispatch, e)

    def _keepalive(self) -> None:
        while not self.closed.wait(KEEPALIVE_EVERY):
            body = {"janus": "keepalive", "transaction": transaction()}
            try:
                self._trace("out", {"url": f"/{self.id}", **body})
                resp = _http("POST", f"{self.base}/{self.id}", body)
                self._trace("in", resp)
            except JanusError as e:
                if self.log:
                    self.log.warning("keepalive: %s", e)

    # -- API ----------------------------------------------------------------
    async def create(self) -> int:
        self.loop = asyncio.get_running_loop()
        self.session_events = asyncio.Queue()
        resp = await self._post("", {"janus": "create"})
        self.id = resp["data"]["id"]
        threading.Thread(target=self._poller, daemon=True, name="janus-poll").start()
        threading.Thread(target=self._keepalive, daemon=True, name="janus-keepalive").start()
        return self.id

    async def attach(self, plugin: str = "janus.plugin.videoroom") -> int:
        resp = await self._post(f"/{self.id}", {"janus": "attach", "plugin": plugin})
        hid = resp["data"]["id"]
        self.queues[hid] = asyncio.Queue()
        return hid

    async def request(self, handle: int, body: dict) -> dict:
        """Synchronous plugin request (list, listparticipants, exists...): plugin data."""
        resp = await self._post(f"/{self.id}/{handle}", {"janus": "message", "body": body})
        if resp.get("janus") != "success":
            raise JanusError(f"expected a synchronous success, got {resp}")
        data = plugin_data(resp)
        if "error_code" in data:
            raise JanusError(f"videoroom error {data['error_code']}: {data.get('error')}")
        return data

    async def send(self, handle: int, body: dict, jsep: dict = None,
                   expect=None, timeout: float = 15.0) -> dict:
        """Asynchronous plugin request: POST (-> ack), then wait for the event
        carrying our transaction (other events of the handle stay queued for
        wait_event). Returns the whole event (plugindata, jsep)."""
        tx = transaction()
        msg = {"janus": "message", "body": body, "transaction": tx}
        if jsep:
            msg["jsep"] = jsep
        what = f"reply to {body.get('request')}"
        fut = self.loop.create_future()
        self.pending[tx] = fut      # before POSTing: the event may beat the ack
        try:
            resp = await self._post(f"/{self.id}/{handle}", msg)
            if resp.get("janus") == "success":   # answered synchronously
                ev = resp
            elif resp.get("janus") != "ack":
                raise JanusError(f"expected ack, got {resp}")
            else:
                try:
                    ev = await asyncio.wait_for(fut, timeout)
                except asyncio.TimeoutError:
                    raise JanusError(f"timeout ({timeout:.0f} s) waiting for {what}") from None
        finally:
            self.pending.pop(tx, None)
        data = plugin_data(ev)
        if "error_code" in data:
            raise JanusError(f"videoroom error {data['error_code']}: {data.get('error')} "
                             f"({what})")
        if expect and data.get("videoroom") not in expect and \
                not any(k in data for k in expect):
            raise JanusError(f"{what}: expected {expect}, got {data}")
        return ev

    async def wait_event(self, handle: int, match=None, timeout: float = 15.0,
                         what: str = "event", others=None) -> dict:
        """Next unsolicited event of this handle (webrtcup, media, hangup,
        room notifications, Janus-initiated offers) for which match(ev) is
        true; the others are passed to others(ev) (may be a coroutine) or dropped."""
        q = self.queues[handle]
        deadline = self.loop.time() + timeout
        while True:
            left = deadline - self.loop.time()
            if left <= 0:
                raise JanusError(f"timeout ({timeout:.0f} s) waiting for {what}")
            try:
                ev = await asyncio.wait_for(q.get(), left)
            except asyncio.TimeoutError:
                continue
            if match is None or match(ev):
                return ev
            if others:
                r = others(ev)
                if asyncio.iscoroutine(r):
                    await r

    async def trickle_completed(self, handle: int) -> None:
        await self._post(f"/{self.id}/{handle}",
                         {"janus": "trickle", "candidate": {"completed": True}})

    async def detach(self, handle: int) -> None:
        await self._post(f"/{self.id}/{handle}", {"janus": "detach"})

    async def destroy(self) -> None:
        try:
            if self.id is not None:
                await self._post(f"/{self.id}", {"janus": "destroy"})
        finally:
            self.closed.set()
