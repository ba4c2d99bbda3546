#!/usr/bin/env bash
# Lints compose/ without a Docker engine (none runs on our CI machines): the Compose schema
# (`docker-compose config -q`, Debian's docker-compose 1.29), yamllint, and checks of our own
# that the schema cannot make: every ORDERFLOW_* variable is one the binaries read, every
# command is one of our binaries, bind-mounted files and the Dockerfile's COPY sources exist,
# each service listens on the container port it publishes and probes, ports bind loopback.
# Exit status 0 when clean, 1 otherwise.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages tools
compose_dir="$ORDERFLOW_ROOT/compose"
status=0

for file in "$compose_dir"/docker-compose.yml "$compose_dir"/cluster.yml; do
    log "checking $(basename "$file")"
    if command -v docker-compose >/dev/null 2>&1; then
        docker-compose -f "$file" config -q || status=1
    else
        warn "docker-compose not installed: schema check skipped"
    fi
    if command -v yamllint >/dev/null 2>&1; then
        yamllint -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable,
                     truthy: {check-keys: false}}}' "$file" || status=1
    fi
done

# The variables the binaries read: every ORDERFLOW_* name in the sources.
known_vars="$(grep -rhoE 'ORDERFLOW_[A-Z0-9_]+' "$ORDERFLOW_ROOT/src" "$ORDERFLOW_ROOT/cmd" | sort -u | tr '\n' ' ')"
binaries="$(find "$ORDERFLOW_ROOT/cmd" -mindepth 1 -maxdepth 1 -type d -printf '%f ')"

/usr/bin/python3 - "$compose_dir" "$known_vars" "$binaries" <<'PY' || status=1
import os, re, sys, yaml

compose_dir, known_vars, binaries = sys.argv[1], set(sys.argv[2].split()), set(sys.argv[3].split())
errors = []

def check_dockerfile(path):
    context = os.path.dirname(compose_dir)
    for line in open(path):
        m = re.match(r'COPY\s+(?!--from)(.+)\s+\S+\s*$', line)
        if m:
            for source in m.group(1).split():
                if not os.path.exists(os.path.join(context, source)):
                    errors.append(f"{path}: COPY source {source} does not exist")

for name in ("docker-compose.yml", "cluster.yml"):
    path = os.path.join(compose_dir, name)
    doc = yaml.safe_load(open(path))
    services = doc.get("services", {})
    volumes = set((doc.get("volumes") or {}).keys())
    for svc, spec in services.items():
        where = f"{name}: service {svc}"
        build = spec.get("build")
        if build:
            context = os.path.normpath(os.path.join(compose_dir, build["context"]))
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                errors.append(f"{where}: Dockerfile {dockerfile} missing")
            else:
                check_dockerfile(dockerfile)
        for dep in (spec.get("depends_on") or {}):
            if dep not in services:
                errors.append(f"{where}: depends_on unknown service {dep}")
        for vol in spec.get("volumes", []):
            source = vol.split(":")[0]
            if source.startswith("."):
                if not os.path.exists(os.path.join(compose_dir, source)):
                    errors.append(f"{where}: bind source {source} missing")
            elif source not in volumes:
                errors.append(f"{where}: named volume {source} not declared")
        published = set()
        for port in spec.get("ports", []):
            parts = str(port).split(":")
            if len(parts) != 3 or parts[0] != "127.0.0.1":
                errors.append(f"{where}: port {port} must be 127.0.0.1:HOST:CONTAINER")
            else:
                published.add(parts[2])
        env = spec.get("environment") or {}
        for key in env:
            if key.startswith("ORDERFLOW_") and key not in known_vars:
                errors.append(f"{where}: {key} is not read by any binary")
        command = spec.get("command")
        if command is not None:
            if command[0] not in binaries:
                errors.append(f"{where}: command {command[0]} is not one of {sorted(binaries)}")
            addr = env.get("ORDERFLOW_HTTP_ADDR", "")
            port = addr.rsplit(":", 1)[-1]
            if not addr.startswith("0.0.0.0:"):
                errors.append(f"{where}: ORDERFLOW_HTTP_ADDR must listen on 0.0.0.0 inside the container")
            # Replicas behind a load balancer expose their port to it instead of publishing.
            exposed = {str(p) for p in spec.get("expose", [])} if "deploy" in spec else set()
            if port not in published and port not in exposed:
                errors.append(f"{where}: listens on {port} but publishes {sorted(published)}")
            probe = " ".join((spec.get("healthcheck") or {}).get("test", []))
            if probe and f":{port}/" not in probe:
                errors.append(f"{where}: healthcheck does not probe port {port}")
            for url_key in ("ORDERFLOW_INVENTORY_URL", "ORDERFLOW_NOTIFICATION_URL", "ORDERFLOW_AMQP_URL",
                            "ORDERFLOW_MGMT_URL"):
                url = env.get(url_key)
                if url:
                    host = re.sub(r"^\w+://([^@/]*@)?", "", url).split(":")[0].split("/")[0]
                    if host not in services:
                        errors.append(f"{where}: {url_key} points at unknown host {host}")

for e in errors:
    print("lint-compose:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

if [[ $status == 0 ]]; then
    log "compose files are clean"
fi
exit "$status"
