"""The Python peer of tests/examples/append_bench.rs: the `eventsourcing` library (PyPI) on the same
PostgreSQL, `writers` threads each appending to its own aggregate for `seconds`: load the aggregate
(the library's repository replays its events, as ours did before the state cache), trigger one event
shaped like ours (an official assigned, the same strings), save. Prints one JSON line:
{"writers": N, "per_second": X, "p50_ms": .., "p99_ms": ..}.

Usage: peer.py DBNAME WRITERS SECONDS  (POSTGRES_HOST/PORT/USER from the environment or defaults).
"""
import json
import os
import sys
import threading
import time

os.environ.setdefault("PERSISTENCE_MODULE", "eventsourcing.postgres")
os.environ.setdefault("POSTGRES_HOST", "127.0.0.1")
os.environ.setdefault("POSTGRES_PORT", "5432")
os.environ.setdefault("POSTGRES_USER", "postgres")
os.environ.setdefault("POSTGRES_PASSWORD", "postgres")

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402


class Project(Aggregate):
    @event("Registered")
    def __init__(self, name):
        self.name = name
        self.officials = []

    @event("OfficialAssigned")
    def assign(self, role, official):
        self.officials.append((role, official))


class Projects(Application):
    def register(self, name):
        project = Project(name)
        self.save(project)
        return project.id

    def assign(self, project_id, i):
        project = self.repository.get(project_id)
        project.assign("liaison", {"name": f"联络员{i}", "post": "科长", "email": f"liaison{i}@example.org"})
        self.save(project)


def main():
    dbname, writers, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    os.environ["POSTGRES_DBNAME"] = dbname
    os.environ["POSTGRES_POOL_SIZE"] = str(writers)
    os.environ["POSTGRES_MAX_OVERFLOW"] = "0"
    app = Projects()
    ids = [app.register(f"测速项目{w}") for w in range(writers)]
    stop = threading.Event()
    latencies = [[] for _ in range(writers)]
    errors = []

    def loop(w):
        i = 0
        try:
            while not stop.is_set():
                t = time.perf_counter()
                app.assign(ids[w], i)
                latencies[w].append(time.perf_counter() - t)
                i += 1
        except Exception as e:  # reported, never swallowed
            errors.append(repr(e))

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        print(json.dumps({"error": errors[0]}))
        sys.exit(1)
    all_latencies = sorted(x for per in latencies for x in per)
    n = len(all_latencies)
    pick = lambda p: all_latencies[round((n - 1) * p)] * 1000 if n else 0.0  # noqa: E731
    print(json.dumps({"writers": writers, "per_second": n / elapsed, "p50_ms": pick(0.5), "p99_ms": pick(0.99)}))


if __name__ == "__main__":
    main()
