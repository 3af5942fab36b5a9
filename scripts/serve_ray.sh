#!/usr/bin/env bash
# Serve Intact from Studio replicas on a local Ray cluster: start Ray on this machine (127.0.0.1
# only; its dashboard on 127.0.0.1), deploy the replicas and run the app in front of them.
#   scripts/serve_ray.sh --replicas 2 [--cpu-replicas 1] [--ray-port 6379] [--dashboard-port 8265] [app.py flags]
# Each replica asks Ray for one GPU when this machine has GPUs (so --replicas at most the GPU
# count); on a CPU machine they share the cores. Ctrl-C stops the app and the cluster.
# Several machines: see "Serving many users" in the README.
set -euo pipefail
cd "$(dirname "$0")/.."

replicas=1 cpu_replicas=0 ray_port=6379 dashboard_port=8265 app_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas=$2; shift 2 ;;
    --cpu-replicas) cpu_replicas=$2; shift 2 ;;
    --ray-port) ray_port=$2; shift 2 ;;
    --dashboard-port) dashboard_port=$2; shift 2 ;;
    *) app_args+=("$1"); shift ;;
  esac
done

# INTACT_PYTHON: an interpreter whose environment already has Intact's requirements (else .venv).
if [ -z "${INTACT_PYTHON:-}" ]; then
  bash scripts/setup.sh
  INTACT_PYTHON=.venv/bin/python
fi
"$INTACT_PYTHON" -c "import ray.serve" 2>/dev/null \
  || "$INTACT_PYTHON" -m pip install -q --disable-pip-version-check -r requirements-serve.txt
ray_cli=$(dirname "$INTACT_PYTHON")/ray

# A loopback node address stays loopback (Ray otherwise swaps it for the network address), and
# every Ray process and client here uses token authentication (the token in ~/.ray/auth_token).
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_USAGE_STATS_ENABLED=0 RAY_AUTH_MODE=token
"$ray_cli" get-auth-token --generate >/dev/null
# Ray schedules by logical CPUs: enough for every replica even on a 2-core machine.
cpus=$(( $(nproc) > replicas + cpu_replicas ? $(nproc) : replicas + cpu_replicas ))
temp_dir=${INTACT_RAY_TEMP:-/tmp/intact-ray}

"$ray_cli" start --head --block --node-ip-address 127.0.0.1 --port "$ray_port" --num-cpus "$cpus" \
  --include-dashboard true --dashboard-host 127.0.0.1 --dashboard-port "$dashboard_port" \
  --disable-usage-stats --temp-dir "$temp_dir" >"$temp_dir.log" 2>&1 &
ray_pid=$!
app_pid=
stop_all() {
  set +e  # stop both, whatever either answers
  if [ -n "$app_pid" ]; then kill "$app_pid" 2>/dev/null; wait "$app_pid" 2>/dev/null; fi
  kill "$ray_pid" 2>/dev/null; wait "$ray_pid" 2>/dev/null
}
trap stop_all EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 120); do
  "$ray_cli" status --address "127.0.0.1:$ray_port" >/dev/null 2>&1 && break
  kill -0 $ray_pid 2>/dev/null || { echo "serve_ray: Ray did not start, see $temp_dir.log" >&2; exit 1; }
  sleep 1
done
echo "serve_ray: Ray cluster at 127.0.0.1:$ray_port, dashboard http://127.0.0.1:$dashboard_port"
echo "serve_ray: deploying $replicas Studio replica(s) and $cpu_replicas CPU replica(s), then starting the app"
"$INTACT_PYTHON" app.py --ray "127.0.0.1:$ray_port" --ray-replicas "$replicas" --ray-cpu-replicas "$cpu_replicas" \
  "${app_args[@]}" &
app_pid=$!
wait $app_pid
