# What scripts/flink_cluster.sh and scripts/spark_cluster.sh share, sourced by both (not run on its own).
#
# Both install a cluster from a PyPI wheel outside the project's venv, fetch Beam's job server for it from Maven
# Central, start a JVM or two plus the job server on loopback, and wait until they answer. Everything that does
# not depend on which cluster it is lives here, so a fix to a check, a wait or the job server's pid handling
# reaches both scripts.
#
# The sourcing script sets REPO (the repository's root) and calls `cluster_settings` first; it defines `install`,
# `start`, `stop` and `status`, which `cluster_main` dispatches to.

# cluster_settings NAME RUN_FOLDER JOB_PORT ARTIFACT_PORT EXPANSION_PORT: the settings every cluster has, each read
# from the environment under the cluster's prefix (NAME=flink: FLINK_TOOLS_DIR, FLINK_RUN_DIR, FLINK_JOB_PORT,
# FLINK_ARTIFACT_PORT, FLINK_EXPANSION_PORT, FLINK_WAIT_SECONDS), with these defaults:
#   CLUSTER         NAME, the word every line starts with
#   TOOLS           REPO/tools: the installs
#   RUN_DIR         TOOLS/RUN_FOLDER: config, pids and logs
#   POM             REPO/scripts/NAME-job-server/pom.xml; JOB_SERVER_DIR (TOOLS/NAME-job-server) where its jars go
#   JOB_SERVER_PID  RUN_DIR/job-server.pid
#   JOB_PORT, ARTIFACT_PORT, EXPANSION_PORT  the job server's ports
#   WAIT_SECONDS    120: how long `wait_for` waits
cluster_settings() {
  CLUSTER=$1
  local prefix=${1^^}
  local tools=${prefix}_TOOLS_DIR run_dir=${prefix}_RUN_DIR job_port=${prefix}_JOB_PORT
  local artifact_port=${prefix}_ARTIFACT_PORT expansion_port=${prefix}_EXPANSION_PORT wait=${prefix}_WAIT_SECONDS
  TOOLS=${!tools:-$REPO/tools}
  RUN_DIR=${!run_dir:-$TOOLS/$2}
  POM=$REPO/scripts/$1-job-server/pom.xml
  JOB_SERVER_DIR=$TOOLS/$1-job-server
  JOB_SERVER_PID=$RUN_DIR/job-server.pid
  JOB_PORT=${!job_port:-$3}
  ARTIFACT_PORT=${!artifact_port:-$4}
  EXPANSION_PORT=${!expansion_port:-$5}
  WAIT_SECONDS=${!wait:-120}
}

die() {
  echo "error: $*" >&2
  exit 2
}

# find_java WHAT VERSIONS VERSION...: exports JAVA_HOME (given, or Java 17, or the `java` on PATH) and checks that
# its major version is one of VERSION... (`java -version` says 1 for Java 8). WHAT names what needs it, e.g.
# "Flink 1.19"; VERSIONS says which ones it runs on, e.g. "Java 11 or 17".
find_java() {
  local what=$1 versions=$2
  shift 2
  if [[ -z ${JAVA_HOME:-} ]]; then
    if [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
      JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
    elif command -v java >/dev/null 2>&1; then
      JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    else
      die "no Java: $what needs $versions (apt-get install openjdk-17-jdk-headless, or set JAVA_HOME)"
    fi
  fi
  [[ -x $JAVA_HOME/bin/java ]] || die "JAVA_HOME=$JAVA_HOME has no bin/java"
  local version accepted
  version=$("$JAVA_HOME/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  for accepted in "$@"; do
    if [[ $version == "$accepted" ]]; then
      export JAVA_HOME
      return
    fi
  done
  die "Java $version at $JAVA_HOME: $what runs on $versions; set JAVA_HOME to one of them"
}

# find_python WHAT: the Python 3.10 that installs WHAT (PYTHON_310, else pyenv's newest 3.10).
find_python() {
  if [[ -n ${PYTHON_310:-} ]]; then
    echo "$PYTHON_310"
    return
  fi
  local root found
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  found=$(ls -d "$root"/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -1 || true)
  [[ -n $found ]] || die "no Python 3.10 under $root/versions to install $1 with (pyenv install 3.10, or set PYTHON_310)"
  echo "$found"
}

# install_wheels WHAT DIR REQUIREMENT...: pip-installs the requirements (no dependencies) into DIR, through
# DIR.partial so that a broken download leaves nothing behind. The first requirement names the install in messages.
install_wheels() {
  local what=$1 dir=$2 python partial=$2.partial
  shift 2
  python=$(find_python "$what")
  echo "$CLUSTER: installing $1 from PyPI into $dir"
  rm -rf "$partial"
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$partial" "$@" ||
    die "pip could not install $1 into $partial"
  rm -rf "$dir"
  mv "$partial" "$dir"
}

# The job server's jars from Maven Central; the stamp holds the pom's checksum, so editing the pom refetches.
# WHAT names the job server in the message ("Flink", "Spark").
install_job_server() {
  local what=$1 stamp=$JOB_SERVER_DIR/.pom.sha256 want partial=$JOB_SERVER_DIR.partial
  want=$(sha256sum "$POM" | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$want" ]] && return
  command -v mvn >/dev/null 2>&1 || die "no mvn: the Beam job server's jars come from Maven Central (apt-get install maven)"
  echo "$CLUSTER: fetching the Beam $what job server's jars from Maven Central into $JOB_SERVER_DIR"
  rm -rf "$partial"
  mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$partial/lib" ||
    die "mvn could not fetch the job server's jars of $POM"
  echo "$want" >"$partial/.pom.sha256"
  rm -rf "$JOB_SERVER_DIR"
  mv "$partial" "$JOB_SERVER_DIR"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# require_free_ports SETTINGS PORT...: stops with a line naming the first port in use and the SETTINGS that move it.
require_free_ports() {
  local settings=$1 port
  shift
  for port in "$@"; do
    port_open "$port" && die "port $port is in use by another process (ss -ltnp 'sport = :$port'); set $settings"
  done
  return 0
}

pid_alive() {
  [[ -f $1 ]] && kill -0 "$(head -1 "$1")" 2>/dev/null
}

job_port_answers() {
  port_open "$JOB_PORT"
}

# wait_for WHAT CHECK LOG: runs CHECK once a second until it succeeds; after WAIT_SECONDS, exits 1 with LOG's tail.
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

# job_server_status: one line saying whether the job server runs and answers; returns 1 when it does not.
job_server_status() {
  if pid_alive "$JOB_SERVER_PID" && port_open "$JOB_PORT"; then
    echo "$CLUSTER: Beam job server up, --job_endpoint=localhost:$JOB_PORT (pid $(cat "$JOB_SERVER_PID"))"
    return 0
  fi
  echo "$CLUSTER: Beam job server down"
  return 1
}

# launch_job_server SETTINGS_SETTING JAVA_ARGUMENT...: starts the job server in the background unless it runs: java
# with JAVA_ARGUMENT... (JVM flags, classpath, driver class and its master flag), then the job server's own ports and
# artifacts folder; its output goes to RUN_DIR/log/job-server.log. SETTINGS names the variables that move its ports.
launch_job_server() {
  local settings=$1
  shift
  pid_alive "$JOB_SERVER_PID" && return
  require_free_ports "$settings" "$JOB_PORT" "$ARTIFACT_PORT" "$EXPANSION_PORT"
  mkdir -p "$RUN_DIR/artifacts" "$RUN_DIR/log"
  nohup "$JAVA_HOME/bin/java" "$@" --job-host localhost --job-port "$JOB_PORT" \
    --artifact-port "$ARTIFACT_PORT" --expansion-port "$EXPANSION_PORT" \
    --artifacts-dir "$RUN_DIR/artifacts" >"$RUN_DIR/log/job-server.log" 2>&1 </dev/null &
  echo $! >"$JOB_SERVER_PID"
}

# stop_job_server: TERM, up to 10 s for it to exit, then KILL; removes the pid file.
stop_job_server() {
  if pid_alive "$JOB_SERVER_PID"; then
    local pid waited=0
    pid=$(cat "$JOB_SERVER_PID")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null && ((waited < 20)); do
      sleep 0.5
      waited=$((waited + 1))
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "$CLUSTER: Beam job server stopped"
  fi
  rm -f "$JOB_SERVER_PID"
}

# cluster_main COMMAND: the scripts' command line (install|start|stop|status).
cluster_main() {
  case ${1:-} in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
  esac
}
