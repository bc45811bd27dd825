"""A few threads that take turns running every helpdesk's work.

A helpdesk's worker is a generator: it runs a cycle (or opens, claims a lease,
acts on a webhook) and then yields a `Park` saying how long it has nothing to do.
The pool keeps the parked workers in a heap by the time they are due and
resumes each on whichever thread is free. 500 helpdesks used to hold 500
threads, almost all asleep, and the health server's answers waited behind
them for the interpreter (413 ms for /healthz, 940 ms for /readyz, issue 25).

Invariants:
- a worker runs on one thread at a time: it is popped from the heap under the
  pool's lock and pushed back only when it yields again, so its state
  (connections included) is never touched by two threads at once;
- threads follow the work: a thread about to run a worker starts another when
  none would be left waiting for what falls due next (at most MOST_THREADS, and
  never more than there are workers), and a thread idle for IDLE_EXIT seconds
  ends while another waits (FEWEST_THREADS stay);
- one idle thread, the watcher, waits for the heap's first due time and is told
  when a push changes it; the other idle threads wait for the watch to pass to
  them, so a due worker wakes one thread, not all of them;
- a parked worker that asked to be woken (`Park(wakeable=True)`) is resumed at
  once by `wake(name)` (a webhook named one of its tickets, a first-sync slot
  came free); a wake that finds it running is kept for its next such park;
- a worker waiting inside a turn for its helpdesk (connectors/retry.py: the request
  budget's pace, a Retry-After, a retry's backoff) holds its thread but not its place:
  another thread may start to run what falls due meanwhile (at most MOST_THREADS not
  waiting, and never more than twice that in all), so helpdesks held back by their budgets
  or a rate-limited account do not hold back a P0 on another helpdesk (issue 25);
- first syncs hold at most three in four of the threads (`first_sync_places`, the
  runner's slots): however long they take, the helpdesks that have synced keep theirs;
- once the stop event is set every parked worker is resumed at once and every
  park is cut short, so each sees its stop flag and ends;
- a turn is never cut short from outside (Python cannot), but one that runs
  longer than LONG_TURN is told in the log, with where its thread is, and again
  every LONG_TURN it goes on: a worker stuck in a loop or a call that never
  returns holds a thread, and the operator sees which helpdesk and where.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from tierlift.connectors.retry import bind_pause, bind_stop
from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.daemon")

MOST_THREADS = 32  # the most threads one replica runs helpdesk work on (docs/performance.md)
FEWEST_THREADS = 2
IDLE_EXIT = 60.0  # seconds a thread waits with nothing due before it ends
STOP_CHECK = 0.5  # seconds: how often the watcher looks at the stop event (a signal handler sets it)
LONG_TURN = 600.0  # seconds: a turn running longer is logged, with where its thread is, and again each time as long
TURN_CHECK = 10.0  # seconds between two looks for long turns


def first_sync_places(most: int = MOST_THREADS) -> int:
    """How many first syncs may run at once on a pool of `most` threads: three in four. A
    first sync is long (across the internet mostly waiting for its helpdesk's answers), and
    a quarter of the threads stays there for the helpdesks that have synced, so a P0 read
    by a cycle or named by a webhook never waits for a first sync to end."""
    return max(1, most - most // 4)


# tierlift's own code (where_thread_is names the innermost frame in it): three folders up from here.
PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class Park:
    """Nothing to do for `seconds`; `wakeable`: `wake(name)` resumes it earlier."""

    seconds: float
    wakeable: bool = False


Turns = Generator[Park, None, None]


class Task:
    def __init__(self, name: str, turns: Turns):
        self.name, self.turns = name, turns
        self.version = 0  # heap entries of an older version are stale
        self.parked = False
        self.wakeable = False
        self.woken = False
        self.done = threading.Event()
        self.running: tuple[float, int] | None = None  # (since, thread id) while a turn runs
        self.told = 0  # long-turn warnings given for the turn that runs
        self.crashed: BaseException | None = None  # what ended it, when not its own return


class WorkerPool:
    def __init__(self, stop: threading.Event, *, most: int = MOST_THREADS, fewest: int = FEWEST_THREADS,
                 idle_exit: float = IDLE_EXIT, name: str = "workers", long_turn: float = LONG_TURN,
                 turn_check: float = TURN_CHECK):
        self.stop_event, self.most, self.fewest, self.idle_exit, self.name = stop, most, fewest, idle_exit, name
        self.long_turn, self.turn_check = long_turn, turn_check
        self._turn_watch: threading.Thread | None = None
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # idle threads that do not watch wait here
        self._watch = threading.Condition(lock)  # the one idle thread that watches the heap
        self._watcher: threading.Thread | None = None
        self._heap: list[tuple[float, int, int, Task]] = []
        self._seq = itertools.count()
        self._tasks: dict[str, Task] = {}
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._paused = 0  # threads whose worker waits for its helpdesk (_pausing)
        self._stopping = False
        self.most_threads_seen = 0  # for the benchmark and the tests
        self.turn_looks = 0  # looks for long turns so far (the tests wait on it)

    # --- what workers and the daemon call -------------------------------------------
    def add(self, name: str, turns: Turns) -> Task:
        task = Task(name, turns)
        with self._cond:
            self._tasks[name] = task
            self._push(task, time.monotonic())
            self._grow()
            if self._turn_watch is None:
                self._turn_watch = threading.Thread(target=self._watch_turns, name=f"{self.name}-turns", daemon=True)
                self._turn_watch.start()
        return task

    def wake(self, name: str) -> None:
        with self._cond:
            task = self._tasks.get(name)
            if task is None:
                return
            if task.parked and task.wakeable:
                self._push(task, time.monotonic())
            else:
                task.woken = True

    def resume(self, name: str) -> None:
        """Resume a parked worker now, whatever its park asked (a reload set its own stop)."""
        with self._cond:
            task = self._tasks.get(name)
            if task is not None and task.parked:
                self._push(task, time.monotonic())

    def stop(self) -> None:
        """Resume every parked worker now (the stop event is set): each ends its turns."""
        with self._cond:
            self._stop_locked()

    def threads(self) -> int:
        with self._cond:
            return len(self._threads)

    # --- the threads ----------------------------------------------------------------
    def _push(self, task: Task, due: float) -> None:
        task.version += 1
        task.parked = True
        heapq.heappush(self._heap, (due, next(self._seq), task.version, task))
        if self._heap[0][3] is task:
            self._watch.notify()  # the watcher's wait ends earlier now

    def _grow(self) -> None:
        """One more thread when none is free to watch the heap (a thread about to run a worker
        leaves one waiting, so work that falls due while every other thread is busy is taken).
        Threads whose worker waits for its helpdesk do not count (_pausing)."""
        working, runnable = len(self._threads) - self._paused, len(self._tasks) - self._paused
        if self._idle == 0 and working < min(self.most, runnable) and len(self._threads) < 2 * self.most:
            thread = threading.Thread(target=self._run, name=f"{self.name}-{next(self._seq)}", daemon=True)
            self._threads.add(thread)
            self.most_threads_seen = max(self.most_threads_seen, len(self._threads))
            thread.start()

    def _stop_locked(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        now = time.monotonic()
        for task in self._tasks.values():
            if task.parked:
                self._push(task, now)
        self._cond.notify_all()
        self._watch.notify_all()

    def _run(self) -> None:
        bind_stop(self.stop_event)  # connector waits (budget, Retry-After, backoff) end on SIGTERM
        bind_pause(self._pausing)  # ... and lend this thread's place while they last
        me = threading.current_thread()
        try:
            while True:
                task = self._next()
                if task is None:
                    return
                self._turn(task)
        finally:
            with self._cond:
                self._threads.discard(me)
                self._cond.notify_all()  # a thread that ends lets another take the watch

    def _next(self) -> Task | None:
        """The next due worker, popped (None: this thread ends). One idle thread, the watcher,
        waits for the heap's first due time; the others wait until the watch passes to them,
        so a due worker wakes one thread, not every idle one."""
        me = threading.current_thread()
        with self._cond:
            idle_since = time.monotonic()
            while True:
                if self.stop_event.is_set():
                    self._stop_locked()
                if not self._tasks:
                    self._leave_watch(me)
                    return None
                now = time.monotonic()
                while self._heap and self._heap[0][2] != self._heap[0][3].version:
                    heapq.heappop(self._heap)  # woken earlier: this entry is stale
                if self._heap and self._heap[0][0] <= now:
                    task = heapq.heappop(self._heap)[3]
                    task.parked = False
                    task.running, task.told = (now, threading.get_ident()), 0  # its turn starts now
                    self._leave_watch(me)
                    self._grow()
                    return task
                if now - idle_since > self.idle_exit and len(self._threads) > self.fewest and self._idle:
                    self._leave_watch(me)
                    return None  # another thread still waits for what falls due
                self._watcher = self._watcher or me
                self._idle += 1
                try:
                    if self._watcher is me:
                        self._watch.wait(min(STOP_CHECK, self._heap[0][0] - now) if self._heap else STOP_CHECK)
                    else:
                        self._cond.wait(self.idle_exit)
                finally:
                    self._idle -= 1

    @contextmanager
    def _pausing(self, seconds: float) -> Iterator[None]:
        """A worker on this thread waits for its helpdesk: its thread stops counting as
        working meanwhile, and one more starts if due work would wait."""
        with self._cond:
            self._paused += 1
            self._grow()
        try:
            yield
        finally:
            with self._cond:
                self._paused -= 1

    def _leave_watch(self, me: threading.Thread) -> None:
        if self._watcher is me:
            self._watcher = None
            self._cond.notify()  # another idle thread takes the watch

    def _turn(self, task: Task) -> None:
        try:
            park = next(task.turns)
        except StopIteration:
            self._finish(task)
            return
        except BaseException as exc:  # a worker's bug ends that worker, never the pool's thread
            event(log, logging.ERROR, "{helpdesk} worker ended", f"{exc.__class__.__name__}: {exc}",
                  exc_info=True, helpdesk=task.name)
            task.crashed = exc
            self._finish(task)
            return
        with self._cond:
            now = time.monotonic()
            task.running = None
            seconds = min(park.seconds, 0.05) if self._stopping else max(0.0, park.seconds)
            task.wakeable = park.wakeable
            if park.wakeable and task.woken:
                task.woken, seconds = False, 0.0
            self._push(task, now + seconds)

    def _finish(self, task: Task) -> None:
        with self._cond:
            task.running = None
            if self._tasks.get(task.name) is task:
                del self._tasks[task.name]
            task.parked = False
            self._cond.notify_all()
            self._watch.notify_all()
        task.done.set()

    # --- long turns -------------------------------------------------------------------
    def _watch_turns(self) -> None:
        while not self.stop_event.wait(self.turn_check):
            self.turn_looks += 1
            for name, seconds, thread_id in self._long_turns(time.monotonic()):
                event(log, logging.WARNING, "{helpdesk} turn running long", where_thread_is(thread_id),
                      helpdesk=name, seconds=round(seconds))
            with self._cond:
                if not self._tasks:
                    self._turn_watch = None
                    return

    def _long_turns(self, now: float) -> list[tuple[str, float, int]]:
        """The turns past their next warning (LONG_TURN, then every LONG_TURN more), marked told."""
        found = []
        with self._cond:
            for task in self._tasks.values():
                if task.running is not None and now - task.running[0] >= self.long_turn * (task.told + 1):
                    task.told += 1
                    found.append((task.name, now - task.running[0], task.running[1]))
        return found


def where_thread_is(thread_id: int) -> str:
    """The thread's innermost frame in tierlift's code and its innermost frame overall
    ("FILE:LINE in FUNCTION"), or "unknown" when the thread has ended."""
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "unknown"
    innermost, ours = frame, None
    while frame is not None and ours is None:
        if os.path.abspath(frame.f_code.co_filename).startswith(PACKAGE + os.sep):
            ours = frame
        frame = frame.f_back

    def at(f: FrameType) -> str:
        return f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno} in {f.f_code.co_name}"

    return at(ours) + (f" (inside {at(innermost)})" if ours is not innermost else "") if ours else at(innermost)


class Pooled(ABC):
    """What runs as turns on a pool, started, asked and joined as a thread is."""

    name: str
    stop_event: threading.Event
    pool: WorkerPool | None = None
    task: Task | None = None

    @abstractmethod
    def turns(self) -> Turns:
        """The work, one `Park` yielded per wait."""

    def start(self, pool: WorkerPool | None = None) -> None:
        """Run on the daemon's pool, or on one of its own (a worker a test starts alone)."""
        self.pool = pool or WorkerPool(self.stop_event, name=self.name)
        self.task = self.pool.add(self.name, self.turns())

    def is_alive(self) -> bool:
        return self.task is not None and not self.task.done.is_set()

    @property
    def crashed(self) -> BaseException | None:
        """What ended the work, when it did not end by itself (a bug: `run --once` exits 1)."""
        return self.task.crashed if self.task is not None else None

    def join(self, timeout: float | None = None) -> None:
        if self.task is not None:
            self.task.done.wait(timeout)

    def _wake(self) -> None:
        if self.pool is not None:
            self.pool.wake(self.name)


class Slots:
    """At most `n` holders at once (first syncs); one that finds none free parks and is
    woken, in the order they asked, when a slot comes back."""

    def __init__(self, n: int):
        self.n = n
        self._held = 0
        self._lock = threading.Lock()
        self._waiting: deque[tuple[str, Callable[[], None]]] = deque()

    def take(self, name: str, wake: Callable[[], None]) -> bool:
        with self._lock:
            if self._held < self.n and (not self._waiting or self._waiting[0][0] == name):
                self._held += 1
                if self._waiting and self._waiting[0][0] == name:
                    self._waiting.popleft()
                # Two places came back before the first waiter took one: wake the next too.
                after = self._waiting[0][1] if self._waiting and self._held < self.n else None
            else:
                if all(waiter != name for waiter, _ in self._waiting):
                    self._waiting.append((name, wake))
                return False
        if after is not None:
            after()
        return True

    def give_back(self) -> None:
        with self._lock:
            self._held -= 1
            first = self._waiting[0][1] if self._waiting else None
        if first is not None:
            first()

    def leave(self, name: str) -> None:
        """A worker that stopped while waiting gives up its place."""
        with self._lock:
            self._waiting = deque(w for w in self._waiting if w[0] != name)
            first = self._waiting[0][1] if self._waiting and self._held < self.n else None
        if first is not None:
            first()
