"""The survey job under faults (issue 6, item 2), each injected for real.

Object-storage faults go through the production path: the job talks S3 to a small
HTTP proxy in front of the moto server, and the proxy answers chosen requests with
5xx errors, or SIGKILLs the Ray worker process that sent them (found from the socket
in /proc), or takes a whole Ray node down at that moment.  botocore's own retries are
turned off (``config_kwargs``) so that the injected errors reach catalog_xai's retry
layer.  Nothing in the package has a test hook.

- transient 5xx on reads, uploads, the publishing copy and the commit marker: exit 0;
- a shard that always fails: reported, exit 1; the resubmission computes only it;
- the actor SIGKILLed mid-shard: Ray restarts it and re-runs the shard;
- a shard that kills its actor every time: bounded retries, then reported (no hang);
- the driver SIGKILLed mid-job (its own local Ray), then resubmitted: resumes;
- a worker node of a two-node cluster lost mid-job: the actor comes back on the head.
"""

import http.client
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs
from conftest import free_port

from catalog_xai import storage
from catalog_xai.cli import classify_survey
from catalog_xai.storage.validate import validate_catalogue

REPO = Path(__file__).resolve().parent.parent

SHARDS = {"shard-0.parquet": (0, 3), "shard-1.parquet": (3, 3), "shard-2.parquet": (6, 2)}  # name: (offset, rows)
# Tiny models, N=2: the faults, not the method, are under test.
# Precision and chunk fixed: each actor's start-up measurement (5 s for the tiny ensemble) is not
# what these tests are about, and every restarted actor would pay it again.
FAST = ["--n-samples", "2", "--tl", "5", "--batch-size", "4", "--precision", "fp32", "--chunk-size", "64"]


# ------------------------------------------------------------------ fault proxy
class Rule:
    """Requests matching ``method`` and the ``path`` regex: let ``after`` through, then act ``times``
    times (None: forever). ``action`` is an HTTP status (answered with S3 error ``code``) or a
    callable(handler) that deals with the request itself (returns False to let it through)."""

    def __init__(self, method, path, action=500, code="InternalError", times=1, after=0):
        self.methods = {method} if isinstance(method, str) else set(method)
        self.path = re.compile(path)
        self.action, self.code, self.times, self.after = action, code, times, after
        self.seen = self.injected = 0

    def take(self, method, path):
        if method not in self.methods or not self.path.search(path):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.injected >= self.times):
            return False
        self.injected += 1
        return True


class FaultProxy:
    """HTTP proxy to the S3 endpoint that injects faults by rule and logs every request."""

    def __init__(self, upstream: str):
        u = urlsplit(upstream)
        self.upstream = (u.hostname, u.port)
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        n = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(n + 2)[:n]
                        if n == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += chunk
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                body = self._body()
                path = unquote(urlsplit(self.path).path)
                with proxy.lock:
                    proxy.log.append((self.command, path))
                    rule = next((r for r in proxy.rules if r.take(self.command, path)), None)
                if rule is not None:
                    if not callable(rule.action):
                        return self._error(rule.action, rule.code)
                    if rule.action(self):
                        return None
                    with proxy.lock:
                        rule.injected -= 1  # the action let this one through
                self._forward(body)

            def _error(self, status, code):
                xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                       f"<Message>injected fault</Message><RequestId>fault</RequestId></Error>").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(xml)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(xml)

            def _forward(self, body):
                hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in hop:
                        self.send_header(k, v)
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length if length is not None else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def injected(self) -> int:
        return sum(r.injected for r in self.rules)

    def requests(self, method, path_regex) -> int:
        with self.lock:
            return sum(1 for m, p in self.log if m == method and re.search(path_regex, p))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------- process tools
def _client_pid(handler) -> int | None:
    """PID of the process on the other end of a proxied connection (from /proc).

    Looked up for up to 5 s: /proc/net/tcp is printed in pieces, and a line can be skipped when
    Ray's many connections come and go while it is read, which let a request through unkilled
    (10 tries in 0.5 s were not always enough on a loaded 2-core machine).
    """
    ip, port = handler.client_address
    local = f"{''.join(reversed([f'{int(b):02X}' for b in ip.split('.')]))}:{port:04X}"
    mapped = f"0000000000000000FFFF0000{local}"  # the same address as an IPv4-mapped IPv6 socket
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        inode = None
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    parts = line.split()
                    if parts[1] in (local, mapped):
                        inode = parts[9]
                        break
            if inode is not None:
                break
        if inode is not None:
            target = f"socket:[{inode}]"
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    for fd in os.listdir(f"/proc/{pid}/fd"):
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            return int(pid)
                except OSError:
                    continue
        time.sleep(0.05)
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        pp = _ppid(int(p))
        if pp is not None:
            children.setdefault(pp, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_ray_under(tmpdir: str) -> list[str]:
    """SIGKILL the processes of a Ray started by this test (its temp dir is in their command lines);
    returns what was still running."""
    found = []
    for _ in range(3):
        mine = [int(p) for p in filter(str.isdigit, os.listdir("/proc"))
                if int(p) != os.getpid() and tmpdir in _cmdline(int(p))]
        mine = set(mine + [c for p in mine for c in _descendants(p)])
        if not mine:
            break
        found += [_cmdline(p)[:100] for p in mine]
        _kill(mine)
        time.sleep(0.5)
    return found


class KillClient:
    """Proxy action: SIGKILL the Ray worker process that sent the request (optionally only if
    ``accept(pid)``), then drop the connection unanswered."""

    def __init__(self, accept=None):
        self.accept = accept or (lambda pid: True)
        self.killed: list[tuple[int, str]] = []
        self.refused: list[str] = []

    def __call__(self, handler) -> bool:
        pid = _client_pid(handler)
        if pid is None:
            # No process holds the connection's socket any more: its sender is gone (e.g. a request
            # a killed worker had in flight). Its request dies unanswered, as it would with its sender;
            # letting it through would publish what the test means to stop (seen once in CI, round M).
            handler.close_connection = True
            return True
        cmd = _cmdline(pid)
        if not (pid != os.getpid() and cmd.startswith("ray::")):
            self.refused.append(f"pid {pid}: {cmd[:80]}")
            return False
        if not self.accept(pid):
            return False
        self.killed.append((pid, cmd))
        self.kill(pid)
        handler.close_connection = True  # the request dies with its sender: no answer
        return True

    def kill(self, pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


# --------------------------------------------------------------------- fixtures
@pytest.fixture()
def survey(s3_bucket, s3_endpoint, synthetic_table):
    """Three shards (8 galaxies) on S3; yields (bucket, fault proxy, storage options via the proxy, direct fs)."""
    bucket, _ = s3_bucket
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    rng = np.random.default_rng(0)
    for name, (start, n) in SHARDS.items():
        buf = io.BytesIO()
        # Incompressible pass-through bytes keep each shard larger than pyarrow's first read of a
        # file's tail (64 KiB), so that reads after the footer happen whatever the images weigh.
        table = synthetic_table.slice(start, n)
        table = table.append_column("notes", pa.array([rng.bytes(40_000) for _ in range(n)], pa.binary()))
        pq.write_table(table, buf)
        fs.pipe(f"{bucket}/survey/{name}", buf.getvalue())
    proxy = FaultProxy(s3_endpoint)
    opts = {"endpoint_url": proxy.url, "config_kwargs": {"retries": {"total_max_attempts": 1}}}
    yield bucket, proxy, opts, fs
    proxy.close()


def _job(bucket, opts, ckpt, *extra):
    return ["--input", f"{bucket}/survey/", "--output", f"{bucket}/vac/", "--checkpoint", ckpt,
            "--storage-options", json.dumps(opts), *FAST, *extra]


def _check_every_row_once(bucket, s3_endpoint, rows=8):
    s3fs.S3FileSystem(endpoint_url=s3_endpoint).invalidate_cache()  # the test's own listings may be stale
    res = validate_catalogue(f"{bucket}/survey/", f"{bucket}/vac/", {"endpoint_url": s3_endpoint})
    assert res["problems"] == [] and res["ok"]
    assert res["rows_in"] == res["rows_out"] == rows
    return res


# ------------------------------------------------------------------------ tests
def test_retry_policy_and_redaction(survey, caplog, monkeypatch):
    """with_retries itself, and a shard read through s3fs that fails mid-stream (in-process, no Ray)."""
    monkeypatch.setattr(storage.objects, "RETRY_BASE_DELAY", 0.01)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by https://AKIAEXAMPLE:sEcReT@host/x?X-Amz-Signature=deadbeef")
        return "ok"

    with caplog.at_level(logging.WARNING, logger="catalog_xai.storage"):
        assert storage.with_retries(flaky, attempts=4, base_delay=0.01, what="get s3://b/k") == "ok"
    assert len(calls) == 3 and len(caplog.records) == 2
    assert "sEcReT" not in caplog.text and "deadbeef" not in caplog.text and "attempt 1 of 4" in caplog.text

    for permanent in (FileNotFoundError("gone"), PermissionError("denied"), IsADirectoryError("dir"),
                      ValueError("bad")):
        calls.clear()
        with pytest.raises(type(permanent)):
            storage.with_retries(lambda e=permanent: calls.append(1) or (_ for _ in ()).throw(e), attempts=4,
                                 base_delay=0.01)
        assert len(calls) == 1
    with pytest.raises(storage.RetriesExhausted, match="gave up after 3 attempts"):
        storage.with_retries(lambda: (_ for _ in ()).throw(TimeoutError("slow")), attempts=3, base_delay=0.01)

    # A real s3fs stack: HEAD fails once (503), then a ranged GET fails twice (500).
    bucket, proxy, opts, _ = survey
    shard = r"/survey/shard-1\.parquet$"
    proxy.rules += [Rule("HEAD", shard, 503, "ServiceUnavailable"), Rule("GET", shard, 500, times=2)]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="catalog_xai.storage"):
        pf = storage.open_shard(f"{bucket}/survey/shard-1.parquet", opts)
        table = pf.read()
    assert table.num_rows == 3 and proxy.injected() == 3
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 3
    assert "testing" not in caplog.text  # the (moto) secret key never appears

    # A 4xx is the caller's fault: raised at once, not retried.
    proxy.rules = [Rule("HEAD", shard, 400, "InvalidArgument", times=None)]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="catalog_xai.storage"), pytest.raises(storage.ShardError,
                                                                                       match="shard-1"):
        storage.open_shard(f"{bucket}/survey/shard-1.parquet", opts)
    assert proxy.rules[0].injected >= 1 and not caplog.records  # (s3fs itself makes 2 HEADs here)


def test_transient_storage_faults_every_row_once(ray_session, survey, s3_endpoint, tiny_checkpoint):
    bucket, proxy, opts, _ = survey
    proxy.rules += [
        Rule("PUT", r"/vac/_catalog_xai_job\.json$", 503, "ServiceUnavailable"),  # driver: claiming the prefix
        Rule(("HEAD", "GET"), r"/survey/shard-1\.parquet$", 500, times=3),  # open
        Rule("GET", r"/survey/shard-0\.parquet$", 500, times=1, after=1),  # a read after the footer
        Rule("PUT", r"/vac/\.shard-0\.parquet\.tmp-", 503, "ServiceUnavailable"),  # upload of the temporary
        Rule("PUT", r"/vac/shard-2\.parquet$", 500),  # the copy that publishes it
        Rule("PUT", r"/vac/_committed/shard-2\.parquet\.json$", 503, "ServiceUnavailable"),  # commit marker
    ]
    rc = classify_survey.main(_job(bucket, opts, tiny_checkpoint, "--max-actors", "1"))
    assert rc == 0
    assert [r.injected for r in proxy.rules] == [1, 3, 1, 1, 1, 1]  # every fault was met (8 in all)
    _check_every_row_once(bucket, s3_endpoint)
    summary = json.loads(s3fs.S3FileSystem(endpoint_url=s3_endpoint).cat(f"{bucket}/vac/_summary.json"))
    assert summary["shards_failed"] == 0 and summary["galaxies"] == 8
    assert len(list(storage.committed_outputs(f"{bucket}/vac/", summary["config_hash"], opts))) == 3


def test_permanent_fault_fails_one_shard_then_resubmission_completes_it(ray_session, survey, s3_endpoint,
                                                                         tiny_checkpoint, capsys):
    bucket, proxy, opts, fs = survey
    proxy.rules += [Rule(("HEAD", "GET"), r"/survey/shard-1\.parquet$", 500, times=None)]  # always fails
    args = _job(bucket, opts, tiny_checkpoint, "--max-actors", "1")
    assert classify_survey.main(args) == 1
    summary = json.loads(fs.cat(f"{bucket}/vac/_summary.json"))
    failed = [r for r in summary["per_shard"] if r["error"]]
    assert summary["shards_failed"] == 1 and failed[0]["shard"].endswith("/shard-1.parquet")
    assert "gave up after 5 attempts" in failed[0]["error"]
    assert summary["galaxies"] == 5 and proxy.injected() == storage.RETRY_ATTEMPTS  # bounded: 5 attempts, 5 errors
    res = validate_catalogue(f"{bucket}/survey/", f"{bucket}/vac/", {"endpoint_url": s3_endpoint})
    assert res["rows_in"] == 8 and res["rows_out"] == 5 and len(res["problems"]) == 1
    before = {p: fs.info(p)["ETag"] for p in fs.find(f"{bucket}/vac/") if p.endswith(".parquet")}

    proxy.rules.clear()  # the fault is gone
    proxy.log.clear()
    capsys.readouterr()
    assert classify_survey.main(args) == 0
    out = capsys.readouterr().out
    assert "resuming: 2 of 3 shards already committed" in out
    summary = json.loads(fs.cat(f"{bucket}/vac/_summary.json"))
    assert [r["shard"].rsplit("/", 1)[1] for r in summary["per_shard"]] == ["shard-1.parquet"]
    assert summary["shards_skipped_committed"] == 2 and summary["galaxies"] == 3
    # The committed shards were neither read nor rewritten.
    assert proxy.requests("GET", r"/survey/shard-[02]\.parquet$") == 0
    assert proxy.requests("PUT", r"/vac/shard-[02]\.parquet$") == 0
    assert all(fs.info(p)["ETag"] == etag for p, etag in before.items())
    _check_every_row_once(bucket, s3_endpoint)


def test_actor_killed_mid_shard_is_restarted_and_the_shard_retried(ray_session, survey, s3_endpoint, tiny_checkpoint):
    bucket, proxy, opts, fs = survey
    killer = KillClient()
    # Killed when it uploads shard-1's catalogue: the shard is computed but not yet published.
    proxy.rules += [Rule("PUT", r"/vac/\.shard-1\.parquet\.tmp-", killer, times=1)]
    rc = classify_survey.main(_job(bucket, opts, tiny_checkpoint, "--max-actors", "1"))
    assert killer.refused == [] and len(killer.killed) == 1, killer.refused
    assert "ShardClassifier" in killer.killed[0][1]
    assert rc == 0
    assert proxy.requests("PUT", r"/vac/\.shard-1\.parquet\.tmp-") == 2  # computed again by the restarted actor
    _check_every_row_once(bucket, s3_endpoint)
    summary = json.loads(fs.cat(f"{bucket}/vac/_summary.json"))
    assert summary["shards_failed"] == 0 and len(summary["per_shard"]) == 3


def test_shard_that_kills_its_actor_every_time_is_reported_not_retried_forever(ray_session, survey, s3_endpoint,
                                                                                tiny_checkpoint):
    """A poison shard (its actor dies on every attempt, as on an out-of-memory image): bounded retries,
    then the shard is reported failed and the rest of the survey completes."""
    from catalog_xai.cluster.pool import MAX_TASK_RETRIES

    bucket, proxy, opts, fs = survey
    killer = KillClient()
    proxy.rules += [Rule("PUT", r"/vac/\.shard-1\.parquet\.tmp-", killer, times=None)]
    rc = classify_survey.main(_job(bucket, opts, tiny_checkpoint, "--max-actors", "1"))
    assert killer.refused == [], killer.refused  # a sender not found would have let its upload through
    assert rc == 1
    assert len(killer.killed) == MAX_TASK_RETRIES + 1
    summary = json.loads(fs.cat(f"{bucket}/vac/_summary.json"))
    failed = {r["shard"].rsplit("/", 1)[1]: r["error"] for r in summary["per_shard"] if r["error"]}
    assert len(summary["per_shard"]) == 3 and "shard-1.parquet" in failed
    # A shard Ray Data had queued on the same actor may be lost with it: reported, never silently missing.
    assert all(e.startswith("lost: ") for e in failed.values()) and len(failed) <= 2
    done = [r for r in summary["per_shard"] if not r["error"]]
    assert summary["galaxies"] == sum(r["rows_out"] for r in done) and done


def _local_survey(root: Path, n_shards: int, rows: int) -> int:
    from catalog_xai.importers.synthetic import synthetic_shard_table

    root.mkdir(parents=True)
    table = synthetic_shard_table(n_shards * rows, seed=11, first_objid=5000)
    for k in range(n_shards):
        pq.write_table(table.slice(k * rows, rows), root / f"part-{k}.parquet")
    return table.num_rows


def _env(ray_tmp: str) -> dict:
    env = dict(os.environ, RAY_TMPDIR=ray_tmp, PYTHONPATH=str(REPO), RAY_DISABLE_USAGE_STATS="1")
    env.pop("RAY_ADDRESS", None)
    return env


def _clean_up_driver(proc, ray_procs: list[int], ray_tmp: str, log) -> None:
    """Kill what is left of a job driver started with its own local Ray under ``ray_tmp``."""
    if proc.poll() is None:
        proc.kill()
    _kill([p for p in ray_procs if _cmdline(p).startswith(("ray::", "ray-"))])  # orphaned workers and agents
    _kill_ray_under(ray_tmp)
    log.close()
    shutil.rmtree(ray_tmp, ignore_errors=True)


def test_driver_killed_mid_job_then_resubmitted(ray_session, tmp_path, tiny_checkpoint, capsys):
    survey, out = tmp_path / "survey", tmp_path / "vac"
    n_rows = _local_survey(survey, n_shards=10, rows=1)
    ray_tmp = tempfile.mkdtemp(prefix="rd", dir="/tmp")  # short: Ray's socket paths must stay short
    args = ["--input", str(survey), "--output", str(out), "--checkpoint", tiny_checkpoint, "--n-samples", "4",
            "--tl", "5", "--batch-size", "1", "--max-actors", "1", "--precision", "fp32", "--chunk-size", "64"]
    log = open(tmp_path / "driver.log", "w")
    ray_procs: list[int] = []
    # Its own local Ray ("--address local"), never the session's.
    proc = subprocess.Popen([sys.executable, str(REPO / "jobs" / "classify_survey.py"), *args, "--address", "local"],
                            env=_env(ray_tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 150
        while time.time() < deadline and proc.poll() is None and not list(out.glob("_committed/*.json")):
            time.sleep(0.05)
        assert proc.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        assert list(out.glob("_committed/*.json")), "no shard committed in time"
        ray_procs = _descendants(proc.pid)  # its local Ray: GCS, raylet, the job's actors, agents
        os.kill(proc.pid, signal.SIGKILL)  # the driver dies mid-job
        proc.wait(10)
        # Its Ray shares its fate: the actor may finish what it holds, then goes (about 4 s here).
        # Ray's per-node agents are orphaned instead; those are killed below.
        deadline = time.time() + 30
        while time.time() < deadline and any(Path(f"/proc/{p}").exists() and "Agent" not in _cmdline(p)
                                             for p in ray_procs):
            time.sleep(0.1)
        orphans = [p for p in ray_procs if Path(f"/proc/{p}").exists()]
        assert all("Agent" in _cmdline(p) for p in orphans), [_cmdline(p)[:60] for p in orphans]
    finally:
        _clean_up_driver(proc, ray_procs, ray_tmp, log)
    committed = sorted(p.name[: -len(".json")] for p in out.glob("_committed/*.json"))
    assert 1 <= len(committed) < 10, f"the kill did not land mid-job: {committed}"
    mtimes = {name: (out / name).stat().st_mtime_ns for name in committed}

    capsys.readouterr()
    assert classify_survey.main(args) == 0  # resubmitted (on the session's Ray)
    text = capsys.readouterr().out
    assert f"resuming: {len(committed)} of 10 shards already committed" in text
    per_shard = json.loads((out / "_summary.json").read_text())["per_shard"]
    redone = {Path(r["shard"]).name: r["rows_out"] for r in per_shard}
    assert redone == {f"part-{k}.parquet": 1 for k in range(10) if f"part-{k}.parquet" not in committed}
    assert {name: (out / name).stat().st_mtime_ns for name in committed} == mtimes  # not recomputed
    res = validate_catalogue(str(survey), str(out))
    assert res["ok"] and res["rows_in"] == res["rows_out"] == n_rows, res["problems"]
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["shards_skipped_committed"] == len(committed) and summary["shards_failed"] == 0



def _ray(*args, env):
    res = subprocess.run([str(Path(sys.executable).parent / "ray"), *args], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=120, text=True)
    assert res.returncode == 0, f"ray {' '.join(args[:3])} ...: {res.stdout[-3000:]}"


def _node_flags():
    return ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
            "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port()),
            "--object-store-memory", str(200 * 2**20)]


def test_worker_node_lost_mid_job(survey, s3_endpoint, tiny_checkpoint, tmp_path, synthetic_table):
    """Two Ray nodes on 127.0.0.1; the worker node vanishes (raylet and its workers SIGKILLed) while its
    actor is publishing a shard; the actor is re-created on the head and the job completes."""
    bucket, proxy, opts, fs = survey
    for k in range(3, 6):  # six shards in all, so both nodes' actors have work
        buf = io.BytesIO()
        pq.write_table(synthetic_table.slice(k, 1).set_column(0, "objid", [[10_000 + k]]), buf)
        fs.pipe(f"{bucket}/survey/shard-{k}.parquet", buf.getvalue())
    ray_tmp = tempfile.mkdtemp(prefix="rn", dir="/tmp")
    # Token auth on every node and the driver (the token file Ray keeps in ~/.ray is never read here);
    # fast health checks, so that the lost node is noticed in seconds.
    env = dict(_env(ray_tmp), RAY_AUTH_MODE="token", RAY_health_check_initial_delay_ms="0",
               RAY_health_check_period_ms="500", RAY_health_check_timeout_ms="500",
               RAY_health_check_failure_threshold="3")
    port, worker_nm_port = free_port(), free_port()
    log = open(tmp_path / "driver.log", "w")
    proc = None

    def worker_raylet():
        for p in filter(str.isdigit, os.listdir("/proc")):
            cmd = _cmdline(int(p))
            if "raylet" in cmd.split(" ")[0] and f"--node_manager_port={worker_nm_port}" in cmd:
                return int(p)
        return None

    class KillWorkerNode(KillClient):
        def kill(self, pid):  # the whole node: its raylet and everything under it
            raylet = worker_raylet()
            _kill([raylet, *_descendants(raylet)])
            time.sleep(0.2)

    def on_worker_node(pid):
        raylet = worker_raylet()
        return raylet is not None and pid in _descendants(raylet)

    killer = KillWorkerNode(accept=on_worker_node)
    proxy.rules += [Rule("PUT", r"/vac/\.shard-\d\.parquet\.tmp-", killer, times=1)]
    try:
        _ray("start", "--head", "--port", str(port), "--include-dashboard=false",
             "--ray-client-server-port", str(free_port()), "--node-manager-port", str(free_port()),
             *_node_flags(), env=env)
        _ray("start", "--address", f"127.0.0.1:{port}", "--node-manager-port", str(worker_nm_port),
             *_node_flags(), env=env)
        assert worker_raylet() is not None
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "jobs" / "classify_survey.py"), *_job(bucket, opts, tiny_checkpoint),
             "--address", f"127.0.0.1:{port}", "--min-actors", "2", "--max-actors", "2", "--cpus-per-actor", "0.5"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        rc = proc.wait(240)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        _kill_ray_under(ray_tmp)
        log.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    text = (tmp_path / "driver.log").read_text()
    assert len(killer.killed) == 1, (killer.refused, text[-3000:])
    assert rc == 0, text[-3000:]
    _check_every_row_once(bucket, s3_endpoint, rows=11)
    summary = json.loads(fs.cat(f"{bucket}/vac/_summary.json"))
    assert summary["shards_failed"] == 0 and len(summary["per_shard"]) == 6


def test_training_driver_killed_then_resubmitted_resumes(ray_session, tmp_path):
    """Ray Train (2 data-parallel workers): kill the training job's driver after its first
    checkpoint, submit it again: it continues from the last checkpoint, not from epoch 1."""
    from catalog_xai.importers.synthetic import generate_survey

    generate_survey(str(tmp_path / "train"), n_galaxies=48, shard_size=24, seed=12)
    out = tmp_path / "ensemble"
    args = ["--train", str(tmp_path / "train"), "--output", str(out), "--architectures", "small_vgg",
            "--epochs", "5", "--batch-size", "8", "--workers", "2", "--name", "resume-test"]
    ray_tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    log = open(tmp_path / "driver.log", "w")
    proc = subprocess.Popen([sys.executable, str(REPO / "jobs" / "train_ensemble.py"), *args, "--ray-address", "local"],
                            env=_env(ray_tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ray_procs: list[int] = []
    try:
        deadline = time.time() + 180
        # A checkpoint counts once Ray Train has registered it in the run's snapshot.
        while time.time() < deadline and proc.poll() is None and not list(out.glob("_ray_train/*/*snapshot*.json")):
            time.sleep(0.05)
        assert proc.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        assert list(out.glob("_ray_train/*/*snapshot*.json")), "no checkpoint in time"
        ray_procs = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the driver dies mid-training
        proc.wait(10)
    finally:
        _clean_up_driver(proc, ray_procs, ray_tmp, log)
    assert not (out / "manifest.json").exists()  # it did not get to the end

    # Resubmitted, as a new job on a Ray of its own: the session's may still hold a CPU for an actor
    # Ray restarted after an earlier test (a job's actors die with its driver; tests share one driver).
    ray_tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    log = open(tmp_path / "driver2.log", "w")
    proc = subprocess.Popen([sys.executable, str(REPO / "jobs" / "train_ensemble.py"), *args, "--ray-address", "local"],
                            env=_env(ray_tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rc = proc.wait(420)
    finally:
        _clean_up_driver(proc, _descendants(proc.pid) if proc.poll() is None else [], ray_tmp, log)
    assert rc == 0, (tmp_path / "driver2.log").read_text()[-3000:]
    report = json.loads((out / "training_log.json").read_text())
    [(arch, epoch)] = report["ray_train"]["resumed_at"]
    assert arch == "small_vgg" and 1 <= epoch < 5
    assert report["models"]["small_vgg"]["history"]["epoch"] == list(range(1, 6))
    assert storage.load_ensemble(str(out)).models[0].spec.architecture == "small_vgg"
