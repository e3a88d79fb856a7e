#!/usr/bin/env bash
# A standalone Apache Spark master and worker and Beam's Spark job server on this machine's loopback: where the
# issue #19 note tried the Transform that Flink cannot run (README, "Distributed Beam").
#
#   scripts/spark_cluster.sh install   fetch Spark and the job server into tools/ (idempotent, cached)
#   scripts/spark_cluster.sh start     install, then start all three and wait until they answer (idempotent)
#   scripts/spark_cluster.sh stop      stop them (idempotent)
#   scripts/spark_cluster.sh status    exit 0 when all answer
#
# Why these pieces:
# - Spark from the pyspark wheel on PyPI (it carries bin/spark-class, sbin/spark-daemon.sh and jars/), installed
#   with --target OUTSIDE the project's venv, at the exact version Beam's Spark runner declares (SPARK_VERSION =
#   spark.version in scripts/spark-job-server/pom.xml, which says why it is Beam 2.62.0 on Spark 3.2.2).
# - The master and the worker through sbin/spark-daemon.sh (the wheel has no start-master.sh).
# - The job server is the Spark driver: its jars from Maven Central first on the classpath, then the wheel's Spark.
# - Spark 3.2 predates Java 17 support (3.3): every JVM here gets the --add-opens flags below, the executors through
#   spark.executor.extraJavaOptions, which the job server's SparkConf reads from its system properties.
#
# Settings (environment): SPARK_WORKER_CORES (2), SPARK_WORKER_MEMORY (4g), SPARK_MASTER_PORT (7077),
# SPARK_MASTER_WEBUI_PORT (8090), SPARK_WORKER_WEBUI_PORT (8091), SPARK_JOB_PORT (8299), SPARK_ARTIFACT_PORT (8298),
# SPARK_EXPANSION_PORT (8297), SPARK_TOOLS_DIR (REPO/tools), SPARK_RUN_DIR (TOOLS/spark-run), JAVA_HOME, PYTHON_310.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/cluster_common.sh
source "$REPO/scripts/cluster_common.sh"
cluster_settings spark spark-run 8299 8298 8297
SPARK_VERSION=3.2.2 # = spark.version in scripts/spark-job-server/pom.xml
SPARK_DIR=$TOOLS/spark-$SPARK_VERSION
CORES=${SPARK_WORKER_CORES:-2}
WORKER_MEMORY=${SPARK_WORKER_MEMORY:-4g}
MASTER_PORT=${SPARK_MASTER_PORT:-7077}
MASTER_UI_PORT=${SPARK_MASTER_WEBUI_PORT:-8090}
WORKER_UI_PORT=${SPARK_WORKER_WEBUI_PORT:-8091}
OPENS=""
for package in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
  java.util.concurrent.atomic sun.nio.ch sun.nio.cs sun.security.action sun.util.calendar; do
  OPENS+="--add-opens=java.base/$package=ALL-UNNAMED "
done
OPENS+="--add-exports=java.base/sun.nio.ch=ALL-UNNAMED"

java_for_spark() {
  find_java "Spark $SPARK_VERSION" "Java 8, 11 or 17" 1 11 17
}

install_spark() {
  [[ -f $SPARK_DIR/pyspark/jars/spark-core_2.12-$SPARK_VERSION.jar && -f $SPARK_DIR/pyspark/sbin/spark-daemon.sh ]] &&
    return
  install_wheels pyspark "$SPARK_DIR" "pyspark==$SPARK_VERSION"
}

spark_env() {
  export SPARK_HOME=$SPARK_DIR/pyspark SPARK_CONF_DIR=$RUN_DIR/conf SPARK_LOG_DIR=$RUN_DIR/log SPARK_PID_DIR=$RUN_DIR
  export SPARK_IDENT_STRING=beam SPARK_DAEMON_JAVA_OPTS=$OPENS SPARK_LOCAL_IP=127.0.0.1
  export SPARK_WORKER_DIR=$RUN_DIR/work SPARK_LOCAL_DIRS=$RUN_DIR/tmp
}

write_config() {
  mkdir -p "$RUN_DIR/conf" "$RUN_DIR/log" "$RUN_DIR/work" "$RUN_DIR/tmp" "$RUN_DIR/artifacts"
  # Executors keep their files beside the logs; the worker forgets finished applications' folders after an hour.
  cat >"$RUN_DIR/conf/spark-env.sh" <<EOF
SPARK_WORKER_OPTS="-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=3600"
EOF
}

master_pid() { echo "$RUN_DIR/spark-beam-org.apache.spark.deploy.master.Master-1.pid"; }
worker_pid() { echo "$RUN_DIR/spark-beam-org.apache.spark.deploy.worker.Worker-1.pid"; }

worker_registered() {
  curl -sf --max-time 3 "http://localhost:$MASTER_UI_PORT/json/" 2>/dev/null | grep -q '"aliveworkers" *: *1'
}

status() {
  local ok=0
  if pid_alive "$(master_pid)" && pid_alive "$(worker_pid)" && worker_registered; then
    echo "spark: master spark://localhost:$MASTER_PORT up with 1 worker ($CORES cores), UI http://localhost:$MASTER_UI_PORT"
  else
    echo "spark: cluster down"
    ok=1
  fi
  job_server_status || ok=1
  return $ok
}

daemon() {
  "$SPARK_HOME/sbin/spark-daemon.sh" "$@" >>"$RUN_DIR/log/daemon.out" 2>&1 ||
    die "spark-daemon.sh $1 $2 failed; see $RUN_DIR/log/daemon.out"
}

install() {
  java_for_spark
  install_spark
  install_job_server Spark
  echo "spark: Spark $SPARK_VERSION in $SPARK_DIR, job server in $JOB_SERVER_DIR"
}

start() {
  command -v curl >/dev/null 2>&1 || die "no curl: it checks that the Spark master answers (apt-get install curl)"
  java_for_spark
  install_spark
  install_job_server Spark
  spark_env
  if status >/dev/null; then
    echo "spark: already running"
    status
    return
  fi
  write_config
  if ! pid_alive "$(master_pid)"; then
    require_free_ports SPARK_MASTER_PORT/SPARK_MASTER_WEBUI_PORT "$MASTER_PORT" "$MASTER_UI_PORT"
    daemon start org.apache.spark.deploy.master.Master 1 --host localhost --port "$MASTER_PORT" \
      --webui-port "$MASTER_UI_PORT"
  fi
  if ! pid_alive "$(worker_pid)"; then
    require_free_ports SPARK_WORKER_WEBUI_PORT "$WORKER_UI_PORT"
    daemon start org.apache.spark.deploy.worker.Worker 1 --host localhost --cores "$CORES" --memory "$WORKER_MEMORY" \
      --webui-port "$WORKER_UI_PORT" "spark://localhost:$MASTER_PORT"
  fi
  if ! pid_alive "$JOB_SERVER_PID"; then
    # The executors load Spark's jars before the job server's, which Spark stages to them: Spark's Guava 14 then
    # broke Beam's GCS options ("NoSuchMethodError: 'void com.google.common.base.Preconditions.checkState(boolean,
    # java.lang.String, long)'" in GoogleCloudStorageReadOptions), so Beam's Guava goes first (Spark shades its own).
    local guava
    guava=$(ls "$JOB_SERVER_DIR"/lib/guava-[0-9]*.jar "$JOB_SERVER_DIR"/lib/failureaccess-*.jar | paste -sd:)
    # shellcheck disable=SC2086 # OPENS is a list of flags
    launch_job_server SPARK_JOB_PORT/SPARK_ARTIFACT_PORT/SPARK_EXPANSION_PORT \
      $OPENS -Xmx2g "-Dspark.executor.extraJavaOptions=$OPENS" "-Dspark.executor.extraClassPath=$guava" \
      -Dspark.driver.host=localhost -Dspark.driver.bindAddress=127.0.0.1 -Dspark.ui.enabled=false \
      -Dspark.local.dir="$RUN_DIR/tmp" \
      -cp "$JOB_SERVER_DIR/lib/*:$SPARK_HOME/jars/*" org.apache.beam.runners.spark.SparkJobServerDriver \
      --spark-master-url "spark://localhost:$MASTER_PORT"
  fi
  wait_for "the Spark worker's registration at the master (port $MASTER_UI_PORT)" worker_registered "$RUN_DIR/log/daemon.out"
  wait_for "the Beam job server on port $JOB_PORT" job_port_answers "$RUN_DIR/log/job-server.log"
  status
  echo "spark: submit to it with --runner=PortableRunner --job_endpoint=localhost:$JOB_PORT --environment_type=LOOPBACK"
  echo "spark: stop it with: scripts/spark_cluster.sh stop; logs in $RUN_DIR/log"
}

stop() {
  stop_job_server
  if pid_alive "$(worker_pid)" || pid_alive "$(master_pid)"; then
    java_for_spark
    spark_env
    # spark-daemon.sh stop sends the signal and returns: wait until the JVMs have exited, so a start right after
    # finds the ports free.
    local pids pid waited
    pids=$(cat "$(worker_pid)" "$(master_pid)" 2>/dev/null || true)
    pid_alive "$(worker_pid)" && daemon stop org.apache.spark.deploy.worker.Worker 1
    pid_alive "$(master_pid)" && daemon stop org.apache.spark.deploy.master.Master 1
    for pid in $pids; do
      waited=0
      while kill -0 "$pid" 2>/dev/null && ((waited < 60)); do
        sleep 0.5
        waited=$((waited + 1))
      done
    done
    echo "spark: master and worker stopped"
  fi
  echo "spark: down"
}

cluster_main "$@"
