#!/bin/bash
# SageMaker Studio JupyterLab lifecycle configuration of the uhnw deployment (uploaded as it is by the Uhnw-Studio
# stack, infra/uhnw_infra/studio.py). At each start of the app it
#   1. reads the deployment's kernel settings: the SSM parameter the stack writes, JSON
#      {"wheel": "s3://<gold>/wheels/uhnw-<version>-py3-none-any.whl", "wheel_sha256": "<hex>",
#       "env": {"UHNW_PROFILE": "aws", ...}};
#   2. checks the wheel (downloaded, or the local one of UHNW_STUDIO_WHEEL) against that sha256 and refuses any other
#      (the Glue and EMR job roles can write the gold bucket; they cannot write the parameter): nothing installed,
#      the kernel left as it was, exit 1; then installs it with its `aws` extra (awswrangler, pyathena) and
#      ipykernel into a virtual environment in $HOME (the space's persistent volume; skipped when the same wheel is
#      installed there already);
#   3. registers the kernel `uhnw` and writes the UHNW_* variables into its kernel.json `env`, so a notebook in that
#      kernel reaches the deployment (Athena, the Glue catalog, the lake) with no further setup, and writes the audit
#      row of each query into Aurora as the insert-only user uhnw_query_audit with an RDS IAM token (no password:
#      the settings carry none, and the script refuses any). UHNW_ANALYST, the actor of those rows, is the Studio
#      user profile of the space (UserProfileName of the app's metadata; every Studio user is sagemaker-user to the
#      OS); a shared space has none, so UHNW_ANALYST stays unset there (logged).
# Studio stops a lifecycle script after 5 minutes and a first install can take longer, so the work runs in the
# background (log: ~/.uhnw/on-start.log; the kernel appears when it is done) unless UHNW_STUDIO_FOREGROUND=1.
#
# Environment (every one optional; the defaults are Studio's):
#   UHNW_STUDIO_PARAMETER   the SSM parameter (default /uhnw/studio/kernel-env; /<prefix>/... with -c prefix=...)
#   UHNW_STUDIO_ENV_FILE    a local file with the parameter's JSON instead (then no AWS call reads settings)
#   UHNW_STUDIO_WHEEL       the wheel: a local path (no download) or an s3:// URI (default: the JSON's); checked
#                           against the settings' wheel_sha256 all the same
#   UHNW_STUDIO_METADATA    the app's metadata (default /opt/ml/metadata/resource-metadata.json, Studio's)
#   UHNW_STUDIO_VENV        the virtual environment (default ~/.uhnw/venv, created with --system-site-packages)
#   UHNW_STUDIO_PYTHON      the interpreter that creates it (default python3; 3.11 or newer)
#   UHNW_STUDIO_FOREGROUND  1: run in the foreground (tests, a rerun by hand)
#   PIP_INDEX_URL ...       pip's own variables (a mirror when the domain has no internet access)
set -euo pipefail

KERNEL=uhnw
STATE="$HOME/.uhnw"
PYTHON="${UHNW_STUDIO_PYTHON:-python3}"
VENV="${UHNW_STUDIO_VENV:-$STATE/venv}"
META="${UHNW_STUDIO_METADATA:-/opt/ml/metadata/resource-metadata.json}"

log() { printf '%s uhnw on-start: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

aws_region() {
    # Studio sets AWS_REGION in most images; otherwise the app's own ARN names it
    local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
    if [[ -z "$region" && -r "$META" ]]; then
        region="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["ResourceArn"].split(":")[3])' "$META")"
    fi
    printf '%s' "$region"
}

aws_cli() {
    command -v aws >/dev/null || die "the AWS CLI is not on PATH (set UHNW_STUDIO_ENV_FILE and UHNW_STUDIO_WHEEL to local files)"
    local region
    region="$(aws_region)"
    if [[ -n "$region" ]]; then aws --region "$region" "$@"; else aws "$@"; fi
}

json_field() {  # json_field FILE KEY: a top-level string of the settings JSON (empty when missing)
    "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")' "$1" "$2"
}

main() {
    mkdir -p "$STATE/wheels"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$PYTHON is older than Python 3.11 (uhnw needs 3.11+)"

    # 1. the deployment's settings
    local settings="$STATE/kernel-settings.json"
    if [[ -n "${UHNW_STUDIO_ENV_FILE:-}" ]]; then
        cp "$UHNW_STUDIO_ENV_FILE" "$settings"
    else
        local parameter="${UHNW_STUDIO_PARAMETER:-/uhnw/studio/kernel-env}"
        log "reading $parameter"
        aws_cli ssm get-parameter --name "$parameter" --query Parameter.Value --output text >"$settings"
    fi

    # 2. the wheel, checked against the settings' sha256 (before anything is installed or the kernel touched),
    #    then in the virtual environment
    local wheel local_wheel expected digest
    wheel="${UHNW_STUDIO_WHEEL:-}"
    if [[ -z "$wheel" ]]; then wheel="$(json_field "$settings" wheel)"; fi
    [[ -n "$wheel" ]] || die "the settings name no wheel"
    expected="$(json_field "$settings" wheel_sha256)"
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "the settings carry no wheel_sha256 (deploy Uhnw-Studio with the wheel in dist/): not installing $wheel; kernel $KERNEL left as it was"
    case "$wheel" in
        s3://*)
            local_wheel="$STATE/wheels/${wheel##*/}"
            log "copying $wheel"
            aws_cli s3 cp --only-show-errors "$wheel" "$local_wheel" ;;
        *) local_wheel="$wheel" ;;
    esac
    [[ -f "$local_wheel" && "$local_wheel" == *.whl ]] || die "no wheel at $local_wheel"
    digest="$(sha256sum "$local_wheel" | cut -d' ' -f1)"
    if [[ "$digest" != "$expected" ]]; then
        if [[ "$local_wheel" != "$wheel" ]]; then rm -f "$local_wheel"; fi  # a downloaded copy is not kept
        die "sha256 mismatch: $wheel is $digest, the settings say $expected: refused (nothing installed; kernel $KERNEL left as it was)"
    fi
    log "sha256 of $(basename "$local_wheel") verified: $digest"

    local want have
    want="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    have="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
    if [[ "$have" != "$want" ]]; then  # none yet, or made by another Python (a newer image): start again
        log "creating $VENV (Python $want)"
        rm -rf "$VENV"
        "$PYTHON" -m venv --system-site-packages "$VENV"
    fi
    local stamp="$VENV/.uhnw-wheel"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" == "$digest" ]]; then
        log "$(basename "$local_wheel") is installed already"
    else
        log "installing $(basename "$local_wheel")[aws] and ipykernel"
        "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off "${local_wheel}[aws]" ipykernel
        # this wheel's files even when the same version is installed (a rebuilt wheel); its dependencies are in place
        "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off --no-deps --force-reinstall "$local_wheel"
        printf '%s\n' "$digest" >"$stamp"
    fi

    # 3. the kernel, with the deployment's settings in its environment: checked first (a refused setting leaves the
    #    kernel as it was), then UHNW_ANALYST from the space's user profile, then the kernel registered and the
    #    settings written into its kernel.json
    local kernel_env="$STATE/kernel-env.json"
    "$VENV/bin/python" - "$settings" "$STATE/home" "$kernel_env" "$META" <<'PY'
import json, re, sys
from dataclasses import fields

from uhnw.config import Settings, load_settings

settings, home, out, meta = sys.argv[1:]
env = {str(k): str(v) for k, v in json.load(open(settings))["env"].items()}
env.setdefault("UHNW_HOME", home)
unknown = sorted(set(env) - {f"UHNW_{f.name.upper()}" for f in fields(Settings)})
if unknown: sys.exit(f"not uhnw settings: {', '.join(unknown)}")
if env.get("UHNW_POSTGRES_PASSWORD"): sys.exit("UHNW_POSTGRES_PASSWORD is set: the kernel logs in with an IAM token")
s = load_settings(env=env)  # what the kernel will see: refuses a bad value here rather than in a notebook
if s.profile != "aws": sys.exit(f"UHNW_PROFILE is {s.profile!r}, not aws")
# who the audit rows name: the Studio user profile of this space (every Studio user is sagemaker-user to the OS)
try:
    with open(meta) as f: app = json.load(f)
    user, space = str(app.get("UserProfileName") or ""), str(app.get("SpaceName") or "")
    why = f"{meta} names no user profile" + (f" (shared space {space})" if space else "")
except (OSError, ValueError, AttributeError) as e:
    user, why = "", f"cannot read {meta} ({e.__class__.__name__})"
if user and not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", user):
    user, why = "", f"{meta}: UserProfileName {user!r} is not a SageMaker user profile name"
if user:
    env["UHNW_ANALYST"] = user
    print(f"UHNW_ANALYST={user} (the Studio user profile)")
else:
    print(f"UHNW_ANALYST not set: {why}; the audit rows name the OS user")
with open(out, "w") as f: json.dump(env, f)
print(f"profile {s.profile}, region {s.region}, Athena workgroup {s.athena_workgroup}, results {s.athena_output}, "
      f"databases {s.glue_database_silver}/{s.glue_database_gold}; audit rows as "
      f"{s.postgres_user}@{s.postgres_host}:{s.postgres_port}/{s.postgres_db} (IAM token: {s.postgres_iam_auth})")
PY
    "$VENV/bin/python" -m ipykernel install --user --name "$KERNEL" --display-name "uhnw (Python $want)"
    "$VENV/bin/python" - "$kernel_env" "$KERNEL" <<'PY'
import json, os, sys

from jupyter_core.paths import jupyter_data_dir

kernel_env, kernel = sys.argv[1:]
path = os.path.join(jupyter_data_dir(), "kernels", kernel, "kernel.json")
with open(path) as f: spec = json.load(f)
with open(kernel_env) as f: spec["env"] = {**spec.get("env", {}), **json.load(f)}
with open(path, "w") as f: json.dump(spec, f, indent=1)
print(f"kernel {kernel}: {path}")
PY
    log "done: kernel $KERNEL"
}

if [[ "${UHNW_STUDIO_FOREGROUND:-0}" == 1 ]]; then
    main
else
    mkdir -p "$STATE"
    log "installing in the background: $STATE/on-start.log"
    (trap '' HUP; main) >>"$STATE/on-start.log" 2>&1 </dev/null &
    disown
fi
