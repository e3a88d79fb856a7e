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
TOOLS=${FLINK_TOOLS_DIR:-$REPO/tools}
RUN_DIR=${FLINK_RUN_DIR:-$TOOLS/run}
FLINK_VERSION=1.19.0 # = flink.version in scripts/flink-job-server/pom.xml
POM=$REPO/scripts/flink-job-server/pom.xml
FLINK_DIR=$TOOLS/flink-$FLINK_VERSION
FLINK_HOME=$FLINK_DIR/pyflink
JOB_SERVER_DIR=$TOOLS/flink-job-server
SLOTS=${FLINK_TASK_SLOTS:-2}
REST_PORT=${FLINK_REST_PORT:-8081}
RPC_PORT=${FLINK_RPC_PORT:-6123}
JOB_PORT=${FLINK_JOB_PORT:-8099}
ARTIFACT_PORT=${FLINK_ARTIFACT_PORT:-8098}
EXPANSION_PORT=${FLINK_EXPANSION_PORT:-8097}
TM_MEMORY=${FLINK_TM_MEMORY:-5120m}
WAIT_SECONDS=${FLINK_WAIT_SECONDS:-120}
JOB_SERVER_PID=$RUN_DIR/job-server.pid

die() {
  echo "error: $*" >&2
  exit 2
}

find_java() {
  if [[ -z ${JAVA_HOME:-} ]]; then
    if [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
      JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
    elif command -v java >/dev/null 2>&1; then
      JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    else
      die "no Java: Flink 1.19 needs Java 11 or 17 (apt-get install openjdk-17-jdk-headless, or set JAVA_HOME)"
    fi
  fi
  [[ -x $JAVA_HOME/bin/java ]] || die "JAVA_HOME=$JAVA_HOME has no bin/java"
  local version
  version=$("$JAVA_HOME/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [[ $version == 11 || $version == 17 ]] ||
    die "Java $version at $JAVA_HOME: Flink 1.19 runs on Java 11 or 17; set JAVA_HOME to one of them"
  export JAVA_HOME
}

find_python() {
  if [[ -n ${PYTHON_310:-} ]]; then
    echo "$PYTHON_310"
    return
  fi
  local root
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  local found
  found=$(ls -d "$root"/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -1 || true)
  [[ -n $found ]] || die "no Python 3.10 under $root/versions to install Flink with (pyenv install 3.10, or set PYTHON_310)"
  echo "$found"
}

# Flink from PyPI into tools/flink-VERSION, through a temporary folder so a broken download leaves nothing behind.
install_flink() {
  [[ -f $FLINK_HOME/lib/flink-dist-$FLINK_VERSION.jar && -x $FLINK_HOME/bin/start-cluster.sh ]] && return
  local python partial=$FLINK_DIR.partial
  python=$(find_python)
  echo "flink: installing apache-flink==$FLINK_VERSION from PyPI into $FLINK_DIR"
  rm -rf "$partial"
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$partial" \
    "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION" ||
    die "pip could not install apache-flink==$FLINK_VERSION into $partial"
  rm -rf "$FLINK_DIR"
  mv "$partial" "$FLINK_DIR"
}

# The job server's jars from Maven Central; the stamp holds the pom's checksum, so editing the pom refetches.
install_job_server() {
  local stamp=$JOB_SERVER_DIR/.pom.sha256 want
  want=$(sha256sum "$POM" | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$want" ]] && return
  command -v mvn >/dev/null 2>&1 || die "no mvn: the Beam job server's jars come from Maven Central (apt-get install maven)"
  echo "flink: fetching the Beam Flink job server's jars from Maven Central into $JOB_SERVER_DIR"
  local partial=$JOB_SERVER_DIR.partial
  rm -rf "$partial"
  mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$partial/lib" ||
    die "mvn could not fetch the job server's jars of $POM"
  echo "$want" >"$partial/.pom.sha256"
  rm -rf "$JOB_SERVER_DIR"
  mv "$partial" "$JOB_SERVER_DIR"
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

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

rest_answers() {
  curl -sf --max-time 3 "http://localhost:$REST_PORT/overview" 2>/dev/null | grep -q "\"slots-total\":$SLOTS"
}

pid_alive() {
  [[ -f $1 ]] && kill -0 "$(head -1 "$1")" 2>/dev/null
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
  if pid_alive "$JOB_SERVER_PID" && port_open "$JOB_PORT"; then
    echo "flink: Beam job server up, --job_endpoint=localhost:$JOB_PORT (pid $(cat "$JOB_SERVER_PID"))"
  else
    echo "flink: Beam job server down"
    ok=1
  fi
  return $ok
}

wait_for() {
  local what=$1 check=$2 log=$3 waited=0
  until $check; do
    if ((waited >= WAIT_SECONDS)); then
      echo "error: $what did not answer within ${WAIT_SECONDS}s; last lines of $log:" >&2
      tail -20 "$log" >&2 || true
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

job_port_answers() {
  port_open "$JOB_PORT"
}

start() {
  command -v curl >/dev/null 2>&1 || die "no curl: it checks that Flink's REST API answers (apt-get install curl)"
  find_java
  install_flink
  install_job_server
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
    local port
    for port in "$REST_PORT" "$RPC_PORT"; do
      port_open "$port" && die "port $port is in use by another process (ss -ltnp 'sport = :$port'); set FLINK_REST_PORT/FLINK_RPC_PORT"
    done
    write_config
    "$FLINK_HOME/bin/start-cluster.sh" >"$RUN_DIR/log/start-cluster.out" 2>&1 ||
      die "start-cluster.sh failed; see $RUN_DIR/log/start-cluster.out"
  fi
  if ! pid_alive "$JOB_SERVER_PID"; then
    for port in "$JOB_PORT" "$ARTIFACT_PORT" "$EXPANSION_PORT"; do
      port_open "$port" && die "port $port is in use by another process (ss -ltnp 'sport = :$port'); set FLINK_JOB_PORT/FLINK_ARTIFACT_PORT/FLINK_EXPANSION_PORT"
    done
    local opens=() package
    for package in java.lang java.lang.invoke java.lang.reflect java.util java.util.concurrent java.nio sun.nio.ch java.io java.net; do
      opens+=("--add-opens=java.base/$package=ALL-UNNAMED")
    done
    mkdir -p "$RUN_DIR/artifacts" "$RUN_DIR/log"
    nohup "$JAVA_HOME/bin/java" "${opens[@]}" --add-exports=java.base/sun.nio.ch=ALL-UNNAMED -Xmx1g \
      -cp "$JOB_SERVER_DIR/lib/*" org.apache.beam.runners.flink.FlinkJobServerDriver \
      --flink-master "localhost:$REST_PORT" --job-host localhost --job-port "$JOB_PORT" \
      --artifact-port "$ARTIFACT_PORT" --expansion-port "$EXPANSION_PORT" \
      --artifacts-dir "$RUN_DIR/artifacts" >"$RUN_DIR/log/job-server.log" 2>&1 </dev/null &
    echo $! >"$JOB_SERVER_PID"
  fi
  wait_for "Flink's REST API on port $REST_PORT" rest_answers "$RUN_DIR/log/start-cluster.out"
  wait_for "the Beam job server on port $JOB_PORT" job_port_answers "$RUN_DIR/log/job-server.log"
  status
  echo "flink: run the pipeline on it with: .venv/bin/python local_runner.py --engine flink"
  echo "flink: stop it with: make flink-down (or scripts/flink_cluster.sh stop); logs in $RUN_DIR/log"
}

stop() {
  if pid_alive "$JOB_SERVER_PID"; then
    local pid waited=0
    pid=$(cat "$JOB_SERVER_PID")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null && ((waited < 20)); do
      sleep 0.5
      waited=$((waited + 1))
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "flink: Beam job server stopped"
  fi
  rm -f "$JOB_SERVER_PID"
  if flink_running; then
    find_java
    flink_env
    "$FLINK_HOME/bin/stop-cluster.sh" >"$RUN_DIR/log/stop-cluster.out" 2>&1 || true
    echo "flink: cluster stopped"
  fi
  echo "flink: down"
}

case ${1:-} in
install)
  find_java
  install_flink
  install_job_server
  echo "flink: Flink $FLINK_VERSION in $FLINK_DIR, job server in $JOB_SERVER_DIR"
  ;;
start) start ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: $0 install|start|stop|status" >&2
  exit 2
  ;;
esac
