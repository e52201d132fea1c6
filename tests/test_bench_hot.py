"""What `uhnw bench hot` counts, on made-up data: a frame is lost only when a socket that should have received it did
not, a repeat is a duplicate by alert id or by article + client, CPU counts a process's whole tree (PostgreSQL's
backends are children of the postmaster) and the bench's own CPU excludes the services it started."""
import subprocess
import sys
import time

from uhnw.bench.common import frozen_gc, own_cpu_seconds, tree_cpu_seconds
from uhnw.bench.hot import delivery_counts, quantile


def frame(alert_id: int, article: str, client: str) -> dict:
    return {"alert_id": alert_id, "article_id": article, "client_id": client}


def test_delivery_counts_judge_each_socket_by_what_it_had_to_receive():
    wanted = [{("a1", "c1"), ("a2", "c1")}, {("a1", "c2")}, set()]  # the third socket's RM covers none of them
    got = [[frame(1, "a1", "c1"), frame(1, "a1", "c1"), frame(9, "a9", "c1")],  # a repeat, one it should not see
           [frame(2, "a1", "c2")], []]
    c = delivery_counts(wanted, got)
    assert (c["expected"], c["delivered"], c["lost"], c["unexpected"]) == (3, 2, 1, 1)
    assert (c["duplicated_by_alert_id"], c["duplicated_by_article_client"], c["duplicated"]) == (1, 1, 1)
    assert c["examples"] == ["lost a2/c1", "unexpected a9/c1"]
    # the same alert pushed again under a new id (stored twice) is a duplicate by article + client only
    c = delivery_counts([{("a1", "c1")}], [[frame(1, "a1", "c1"), frame(2, "a1", "c1")]])
    assert (c["duplicated_by_alert_id"], c["duplicated_by_article_client"], c["lost"]) == (0, 1, 0)


def test_quantile_is_the_nearest_rank():
    xs = [float(i) for i in range(1, 101)]
    assert (quantile(xs, .5), quantile(xs, .99), quantile(xs, 1)) == (50.0, 99.0, 100.0)
    assert quantile([], .99) is None and quantile([7.0], .5) == 7.0


def test_cpu_of_a_tree_counts_its_children_and_the_bench_counts_itself_only():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {burn!r}])\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and tree_cpu_seconds(parent.pid) - own_cpu_seconds(parent.pid) < 0.5:
            time.sleep(0.2)
        assert tree_cpu_seconds(parent.pid) - own_cpu_seconds(parent.pid) >= 0.5, "the child's CPU is in the tree"
        assert own_cpu_seconds(parent.pid) < 0.5, "and not in the parent's own"
    finally:
        import psutil
        for p in psutil.Process(parent.pid).children(recursive=True): p.kill()
        parent.kill()


def test_the_poster_posts_again_when_a_server_dies_mid_answer_and_says_so_when_it_keeps_dying():
    "A replica killed after its status line but before the body (IncompleteRead) is a dropped connection, not a crash."
    import http.server
    import threading

    import pytest

    from uhnw.bench.harness import SignedPoster
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            seen.append(self.path)
            cut = self.server.cut_answers > 0
            self.server.cut_answers -= 1
            body = b'{"article_id": "a1"}'
            self.send_response(202)
            self.send_header("content-length", str(len(body) + (50 if cut else 0)))  # promises more than it sends
            self.end_headers()
            self.wfile.write(body)
            if cut: self.close_connection = True

        def log_message(self, *args): pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        poster = SignedPoster(f"http://127.0.0.1:{server.server_port}", "secret", timeout=5)
        server.cut_answers = 1
        status, at = poster.post({"id": "a1"})
        assert status == 202 and len(seen) == 2 and at > 0  # cut off once, posted again, answered
        server.cut_answers = 2
        with pytest.raises(ConnectionError, match="answer cut off"):  # an OSError: the chaos bench counts it as dropped
            poster.post({"id": "a2"})
        assert len(seen) == 4
    finally:
        server.shutdown(); server.server_close()


def test_a_run_deletes_its_own_topics_and_no_one_elses(bus):
    "A bench run's topics (its own prefix) are deleted when it ends; a topic under another prefix is left alone."
    import dataclasses

    from confluent_kafka.admin import AdminClient

    from uhnw.bench.harness import drop_run_topics
    from uhnw.bus import client_config, ensure_topics, topic_specs
    run = dataclasses.replace(bus, topic_prefix=f"{bus.topic_prefix}bench1.")
    ensure_topics(AdminClient(client_config(run)), topic_specs(run))
    admin = AdminClient(client_config(bus))
    names = {s.name for s in topic_specs(run)}
    deadline = time.monotonic() + 30  # created topics reach the broker's metadata a moment after the controller's answer
    while time.monotonic() < deadline and names - set(admin.list_topics(timeout=10).topics): time.sleep(0.2)
    before = set(admin.list_topics(timeout=10).topics)
    mine = {t for t in before if t.startswith(run.topic_prefix)}
    others = {t for t in before if t.startswith(bus.topic_prefix) and t not in mine}
    assert mine == names and others  # something to delete, something to keep
    assert set(drop_run_topics(run)) == mine
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and mine & set(admin.list_topics(timeout=10).topics): time.sleep(0.5)
    after = set(admin.list_topics(timeout=10).topics)
    assert not mine & after
    assert others <= after
    drop_run_topics(bus)  # this test's own topics too


def test_frozen_gc_keeps_what_exists_out_of_collections_for_the_measured_window_only():
    import gc
    before = gc.get_freeze_count()
    kept = [[i] for i in range(1000)]  # containers the collector tracks
    with frozen_gc():
        assert gc.get_freeze_count() >= before + len(kept)  # walked by no collection while the window lasts
        made_inside = [[i] for i in range(10)]
        assert all(gc.is_tracked(x) for x in made_inside)
    assert gc.get_freeze_count() == 0  # back in the collector's reach afterwards
    with_error = 0
    try:
        with frozen_gc(): raise RuntimeError("a failed run")
    except RuntimeError:
        with_error = gc.get_freeze_count()
    assert with_error == 0


def test_a_process_age_is_read_from_its_start_and_none_for_no_process():
    from uhnw.bench.common import process_age_s
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        age = process_age_s(child.pid)
        assert age is not None and 0.3 <= age < 10
    finally:
        child.kill(); child.wait()
    assert process_age_s(child.pid) is None  # reaped: no such process any more


def test_frame_times_are_those_of_accepted_articles_since_the_mark():
    from types import SimpleNamespace

    from uhnw.bench.hot import _frame_times

    def got(alert_id, article, received):
        return SimpleNamespace(received=received, alert={"alert_id": alert_id, "article_id": article,
                                                         "processed_at": "2026-12-04T10:00:00.010+00:00",
                                                         "created_at": "2026-12-04T10:00:00.020+00:00"})
    listener = SimpleNamespace(frames=[got(1, "old", 5.0), got(2, "a", 7.0), got(3, "refused", 8.0)])
    times = _frame_times([listener], [1], {"a": (1.0, 2.0, True), "old": (0.0, 0.5, True)})
    assert times == [{"alert_id": 2, "posted": 1.0, "acknowledged": 2.0, "processed": 1796378400.01, "stored": 1796378400.02,
                      "received": 7.0, "measured": True}]
