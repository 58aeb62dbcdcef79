#!/bin/bash
# A sharded benchmark run on a real Slurm cluster, started on this one machine: Debian's slurm-wlm (slurmctld +
# slurmd) and munge with a generated slurm.conf for localhost (2 CPUs, state, spool and logs in a temporary folder).
# `g4ref eval submit --slurm` queues a 4-task array on the tiny synthetic checkpoint plus its merge job; one task
# is requeued with `scontrol requeue` after it has written records. Checks: every array task and the merge job
# COMPLETED, the requeued task restarted and resumed, 0 samples lost and 0 duplicated, and the merged
# results.json byte-identical to an unsharded run of the same settings. All daemons are stopped at the end.
#
# A maintainer script, not part of tests/run.sh (CI): it needs root, installs packages and takes minutes.
#   sudo tests/slurm/run.sh [BUILD_DIR]        (default: build; needs BUILD_DIR/eval/g4ref)
# Environment: G4REF_SLURM_LIMIT (samples, default 40), G4REF_SLURM_TOKENS (--max-new-tokens, default 64),
# G4REF_SLURM_KEEP=1 keeps the temporary folder (checkpoint, runs, Slurm logs) after a pass.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
g4ref="$build/eval/g4ref"
limit="${G4REF_SLURM_LIMIT:-40}"
tokens="${G4REF_SLURM_TOKENS:-64}"
shards=4

log() { echo "[slurm-test $(date +%T)] $*"; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (slurmd and munged are started here)"
[ -x "$g4ref" ] || die "$g4ref is missing: build it first (cmake --build $build --target g4ref_cli)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge >/dev/null
fi
log "slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm), munge $(dpkg-query -W -f='${Version}' munge)"

work="$(mktemp -d /tmp/g4ref-slurm.XXXXXX)"
mkdir -p "$work/state" "$work/spool" "$work/log" "$work/munge"
chmod 755 "$work"
port=$((20000 + RANDOM % 20000))
export SLURM_CONF="$work/slurm.conf"
node="$(hostname -s)"

cleanup() {
  local rc=$?
  set +e
  if [ -f "$work/array.id" ]; then scancel "$(cat "$work/array.id")" "$(cat "$work/merge.id" 2>/dev/null)" 2>/dev/null; fi
  for p in slurmd slurmctld; do
    [ -f "$work/$p.pid" ] && kill "$(cat "$work/$p.pid")" 2>/dev/null
  done
  sleep 1
  [ -f "$work/munge/munged.pid" ] && kill "$(cat "$work/munge/munged.pid")" 2>/dev/null
  log "daemons stopped; $( [ $rc = 0 ] && echo "PASS" || echo "exit $rc, logs kept in $work/log")"
  [ $rc = 0 ] && [ -z "${G4REF_SLURM_KEEP:-}" ] && rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# munge: a fresh key and a socket of our own, so an installed munged (if any) is left alone.
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 700 "$work/munge" && chmod 600 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed"
chmod 755 "$work/munge"

cat >"$SLURM_CONF" <<EOF
ClusterName=g4ref-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
MinJobAge=3600
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  sinfo -h -o '%t' 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o '%t' | grep -q idle || die "the node did not become idle: $(sinfo 2>&1)"
log "cluster up: slurmctld + slurmd on $node, port $port, conf $SLURM_CONF"
sinfo

"$g4ref" synth --preset tiny --out "$work/tiny" >/dev/null
run_args=(--task mmlu_pro --backend reference --model "$work/tiny" --limit "$limit" --max-new-tokens "$tokens" --quiet)

log "unsharded run: ${run_args[*]}"
t0=$(date +%s)
OMP_NUM_THREADS=1 "$g4ref" eval run "${run_args[@]}" --out "$work/whole" >/dev/null
log "unsharded run done in $(( $(date +%s) - t0 )) s"

"$g4ref" eval submit --slurm --shards "$shards" --array-parallel 2 --cpus-per-task 1 --time 30:00 --json \
  -- "${run_args[@]}" --out "$work/sharded" >"$work/submit.json"
array="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["array_job"])' "$work/submit.json")"
merge="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["merge_job"])' "$work/submit.json")"
echo "$array" >"$work/array.id"
echo "$merge" >"$work/merge.id"
log "submitted: array job $array (tasks 0-$((shards - 1)), at most 2 at once), merge job $merge (afterok:$array)"
squeue -o '%.12i %.18j %.9T %.20r'

# Requeue task 1 once it is running and has written at least 2 records.
victim="${array}_1"
records() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
shard_log="$work/sharded/shard-1-of-$shards/samples.jsonl"
for _ in $(seq 1 1200); do
  st="$(squeue -h -j "$victim" -o '%T' 2>/dev/null || true)"
  [ "$st" = RUNNING ] && [ "$(records "$shard_log")" -ge 2 ] && break
  [ -z "$st" ] && die "task $victim ended before it could be requeued; raise G4REF_SLURM_LIMIT"
  sleep 0.2
done
before="$(records "$shard_log")"
log "requeue: scontrol requeue $victim while RUNNING with $before records in shard-1-of-$shards/samples.jsonl"
scontrol requeue "$victim"
sleep 1
left="$(records "$shard_log")"
log "the first attempt of $victim was stopped and left $left records"
# Slurm makes a requeued job wait about two minutes (its BeginTime); start it now instead.
scontrol update JobId="$victim" StartTime=now
log "after requeue: $(scontrol show job "$victim" | grep -o 'JobState=[A-Z]* Reason=[A-Za-z]*\|Restarts=[0-9]*' | tr '\n' ' ')"

for _ in $(seq 1 2400); do
  [ -z "$(squeue -h -j "$array,$merge" -o '%i' 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -j "$array,$merge" -o '%i' 2>/dev/null)" ] || die "jobs still queued after 40 minutes"

log "array tasks:"
fail=0
for i in $(seq 0 $((shards - 1))); do
  line="$(scontrol show job "${array}_$i" | tr ' ' '\n' | grep -E '^(JobId|ArrayTaskId|JobState|Restarts|ExitCode|RunTime)=' | tr '\n' ' ')"
  echo "  task $i: $line"
  echo "$line" | grep -q 'JobState=COMPLETED' || fail=1
done
mline="$(scontrol show job "$merge" | tr ' ' '\n' | grep -E '^(JobId|JobState|Dependency|ExitCode|RunTime)=' | tr '\n' ' ')"
echo "  merge: $mline"
echo "$mline" | grep -q 'JobState=COMPLETED' || fail=1
[ $fail = 0 ] || { tail -n 30 "$work"/sharded/slurm/*.log; die "a job did not complete"; }
scontrol show job "$victim" | grep -q 'Restarts=1' || die "task $victim shows no restart"

log "task 1's log (both attempts, appended):"
sed 's/^/  /' "$work/sharded/slurm/shard-1-of-$shards.log"
log "merge job's output:"
/usr/bin/python3 -c 'import json,sys; t=open(sys.argv[1]).read(); j=json.loads(t); print("  merged", j["shards"], "shards,", j["samples"], "samples ->", j["out"])' "$work/sharded/slurm/merge.log"

# 0 lost, 0 duplicated: the ids of all shard logs against the unsharded run's.
/usr/bin/python3 - "$work" "$shards" <<'EOF'
import collections, json, sys
work, n = sys.argv[1], int(sys.argv[2])
def ids(path):
    with open(path) as f:
        return [json.loads(line)["id"] for line in f if line.strip()]
want = collections.Counter(ids(f"{work}/whole/samples.jsonl"))
got = collections.Counter()
for i in range(n):
    got.update(ids(f"{work}/sharded/shard-{i}-of-{n}/samples.jsonl"))
lost = sum(1 for k in want if k not in got)
dup = sum(c - 1 for c in got.values() if c > 1)
extra = sum(1 for k in got if k not in want)
print(f"  samples: {sum(got.values())} records in the shards, {len(want)} expected; lost {lost}, duplicated {dup}, extra {extra}")
sys.exit(0 if lost == 0 and dup == 0 and extra == 0 else 1)
EOF
final="$(grep -c . "$shard_log")"
log "requeued task: requeue issued at $before records, the first attempt left $left, the second resumed from them and ended with $final ($(grep -o '[0-9]* resumed, [0-9]* run' "$work/sharded/slurm/shard-1-of-$shards.log"))"
[ "$final" -gt "$left" ] || die "the requeued task ran nothing after its restart"

if cmp "$work/sharded/results.json" "$work/whole/results.json"; then
  log "merged results.json is byte-identical to the unsharded run's ($(wc -c <"$work/whole/results.json") bytes, sha256 $(sha256sum "$work/whole/results.json" | cut -c1-16)…)"
else
  diff <(/usr/bin/python3 -m json.tool "$work/sharded/results.json") <(/usr/bin/python3 -m json.tool "$work/whole/results.json") | head -20
  die "merged results.json differs from the unsharded run's"
fi
