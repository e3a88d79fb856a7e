#!/usr/bin/env bash
# A standalone Apache Flink cluster and Beam's Flink job server on this machine's loopback, for
# `local_runner.py --engine flink` (pipeline/engines.py).
#
#   scripts/flink_cluster.sh install   fetch Flink and the job server into tools/ (idempotent, cached)
#   scripts/flink_cluster.sh start     install, then start both and wait until they answer (idempotent)
#   scripts/flink_cluster.sh stop      stop both (idempotent)
#   scripts/flink_cluster.sh status    exit 0 when both answer
#
# Why these pieces:
# - Flink from PyPI (apache-flink + apache-flink-libraries carry bin/start-cluster.sh and lib/flink-dist),
#   installed with --target OUTSIDE the project's venv: apache-flink pins an old apache-beam.
# - The job server from Maven Central, assembled from scripts/flink-job-server/pom.xml (that file says why it is
#   Beam 2.62.0 on Flink 1.19.0); the cluster runs the exact Flink version the runner was built against.
# - Java 17 needs the --add-opens flags below for Beam's job server (Flink's own scripts add theirs).
#
# Settings (environment): FLINK_TASK_SLOTS (2), FLINK_REST_PORT (8081), FLINK_RPC_PORT (6123), FLINK_JOB_PORT
# (8099), FLINK_ARTIFACT_PORT (8098), FLINK_EXPANSION_PORT (8097), FLINK_TM_MEMORY (5120m), FLINK_TOOLS_DIR
# (REPO/tools: the installs), FLINK_RUN_DIR (TOOLS/run: config, pids, logs), JAVA_HOME, PYTHON_310.
# Flink's REST API and the Beam ports answer on localhost; Beam's job server binds its gRPC ports on every
# interface (Beam's ServerFactory ignores --job-host for binding), so keep this machine's firewall closed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/cluster_common.sh
source "$REPO/scripts/cluster_common.sh"
cluster_settings flink run 8099 8098 8097
FLINK_VERSION=1.19.0 # = flink.version in scripts/flink-job-server/pom.xml
FLINK_DIR=$TOOLS/flink-$FLINK_VERSION
FLINK_HOME=$FLINK_DIR/pyflink
SLOTS=${FLINK_TASK_SLOTS:-2}
REST_PORT=${FLINK_REST_PORT:-8081}
RPC_PORT=${FLINK_RPC_PORT:-6123}
TM_MEMORY=${FLINK_TM_MEMORY:-5120m}

java_for_flink() {
  find_java "Flink 1.19" "Java 11 or 17" 11 17
}

# Flink from PyPI into tools/flink-VERSION, through a temporary folder so a broken download leaves nothing behind.
install_flink() {
  [[ -f $FLINK_HOME/lib/flink-dist-$FLINK_VERSION.jar && -x $FLINK_HOME/bin/start-cluster.sh ]] && return
  install_wheels Flink "$FLINK_DIR" "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION"
}

# Flink's configuration, written fresh at every start from the settings above; the java options are the shipped
# config's own (the --add-opens Flink needs on Java 17).
write_config() {
  local conf=$RUN_DIR/conf java_opts
  mkdir -p "$conf" "$RUN_DIR/log" "$RUN_DIR/tmp"
  cp "$FLINK_HOME"/conf/log4j*.properties "$FLINK_HOME"/conf/logback*.xml "$conf/"
  java_opts=$(sed -n 's/^ *all: *\(--add-.*\)$/\1/p' "$FLINK_HOME/conf/config.yaml" | head -1)
  [[ -n $java_opts ]] || die "no env.java.opts.all in $FLINK_HOME/conf/config.yaml"
  echo "localhost:$REST_PORT" >"$conf/masters"
  echo "localhost" >"$conf/workers"
  # Network memory: Beam's batch translation gives every shuffle of a TFX job a result partition of its own, and
  # Flink's sort-shuffle reserves sort-shuffle.min-buffers (512) buffers for each: with Flink's defaults
  # ImportExampleGen failed ("Insufficient number of network buffers: required 512, but only 500 available"), and
  # with 512m of network memory (16384 buffers) StatisticsGen's ~30 partitions still did. 64 buffers each
  # suffice at parallelism 2.
  cat >"$conf/config.yaml" <<EOF
env:
  java:
    opts:
      all: $java_opts
jobmanager:
  bind-host: localhost
  rpc:
    address: localhost
    port: $RPC_PORT
  memory:
    process:
      size: 1600m
  execution:
    failover-strategy: region
taskmanager:
  bind-host: localhost
  host: localhost
  numberOfTaskSlots: $SLOTS
  memory:
    process:
      size: $TM_MEMORY
    # Flink's default 40% managed memory serves batch sorts; the streaming translator (Transform) keeps its
    # state on the heap, which ran out at the default (java.lang.OutOfMemoryError: Java heap space).
    managed:
      fraction: 0.2
    # Beam's data plane to the Python SDK harness is gRPC over Netty, which buffers in direct memory that Flink
    # does not manage; Flink's default of none for tasks failed ImportExampleGen on the full credit-card data
    # (284,807 rows): "java.lang.OutOfMemoryError: Direct buffer memory" in BeamFnDataOutboundAggregator.
    task:
      off-heap:
        size: 1024m
    network:
      min: 512m
      max: 512m
  network:
    sort-shuffle:
      min-buffers: 64
    # A streaming job's consumers ask for partitions whose producers may still be deploying; on a loaded
    # machine Flink's 10 s back-off ran out (PartitionNotFoundException).
    request-backoff:
      max: 120000
parallelism:
  default: $SLOTS
# Deploying a job's tasks on 2 shared cores took longer than Flink's default 10 s RPC timeout
# ("Cannot deploy task ... not responding after a rpcTimeout of 10000 ms").
pekko:
  ask:
    timeout: 120 s
# A TaskManager starved of CPU by other work on the machine missed Flink's 50 s heartbeat and its job failed
# ("Heartbeat of TaskManager ... timed out").
heartbeat:
  timeout: 300000
rest:
  address: localhost
  bind-address: localhost
  port: $REST_PORT
# Blobs and spill files beside the logs, not in /tmp.
io:
  tmp:
    dirs: $RUN_DIR/tmp
EOF
}

flink_env() {
  export FLINK_CONF_DIR=$RUN_DIR/conf FLINK_LOG_DIR=$RUN_DIR/log FLINK_PID_DIR=$RUN_DIR
}

rest_answers() {
  curl -sf --max-time 3 "http://localhost:$REST_PORT/overview" 2>/dev/null | grep -q "\"slots-total\":$SLOTS"
}

flink_running() {
  local pid
  for pid in "$RUN_DIR"/flink-*-standalonesession.pid; do
    pid_alive "$pid" && return 0
  done
  return 1
}

status() {
  local ok=0
  if flink_running && rest_answers; then
    echo "flink: cluster up, REST http://localhost:$REST_PORT ($(curl -sf "http://localhost:$REST_PORT/overview"))"
  else
    echo "flink: cluster down"
    ok=1
  fi
  job_server_status || ok=1
  return $ok
}

install() {
  java_for_flink
  install_flink
  install_job_server Flink
  echo "flink: Flink $FLINK_VERSION in $FLINK_DIR, job server in $JOB_SERVER_DIR"
}

start() {
  command -v curl >/dev/null 2>&1 || die "no curl: it checks that Flink's REST API answers (apt-get install curl)"
  java_for_flink
  install_flink
  install_job_server Flink
  flink_env
  if flink_running && rest_answers && pid_alive "$JOB_SERVER_PID" && port_open "$JOB_PORT"; then
    echo "flink: already running"
    status
    return
  fi
  if flink_running && ! grep -q "numberOfTaskSlots: $SLOTS\$" "$RUN_DIR/conf/config.yaml"; then
    die "the Flink cluster of $RUN_DIR runs with other settings; stop it first (scripts/flink_cluster.sh stop)"
  fi
  if ! flink_running; then
    require_free_ports FLINK_REST_PORT/FLINK_RPC_PORT "$REST_PORT" "$RPC_PORT"
    write_config
    "$FLINK_HOME/bin/start-cluster.sh" >"$RUN_DIR/log/start-cluster.out" 2>&1 ||
      die "start-cluster.sh failed; see $RUN_DIR/log/start-cluster.out"
  fi
  local opens=() package
  for package in java.lang java.lang.invoke java.lang.reflect java.util java.util.concurrent java.nio sun.nio.ch java.io java.net; do
    opens+=("--add-opens=java.base/$package=ALL-UNNAMED")
  done
  launch_job_server FLINK_JOB_PORT/FLINK_ARTIFACT_PORT/FLINK_EXPANSION_PORT \
    "${opens[@]}" --add-exports=java.base/sun.nio.ch=ALL-UNNAMED -Xmx1g \
    -cp "$JOB_SERVER_DIR/lib/*" org.apache.beam.runners.flink.FlinkJobServerDriver --flink-master "localhost:$REST_PORT"
  wait_for "Flink's REST API on port $REST_PORT" rest_answers "$RUN_DIR/log/start-cluster.out"
  wait_for "the Beam job server on port $JOB_PORT" job_port_answers "$RUN_DIR/log/job-server.log"
  status
  echo "flink: run the pipeline on it with: .venv/bin/python local_runner.py --engine flink"
  echo "flink: stop it with: make flink-down (or scripts/flink_cluster.sh stop); logs in $RUN_DIR/log"
}

stop() {
  stop_job_server
  if flink_running; then
    java_for_flink
    flink_env
    "$FLINK_HOME/bin/stop-cluster.sh" >"$RUN_DIR/log/stop-cluster.out" 2>&1 || true
    echo "flink: cluster stopped"
  fi
  echo "flink: down"
}

cluster_main "$@"
